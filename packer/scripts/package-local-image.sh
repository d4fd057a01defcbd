#!/usr/bin/env bash
# Turn the staged filesystem into a local-cloud image (format pipeline-local-image/1):
# a gzip tarball whose root holds image.json and the tree (opt/app/...). See packer/README.md.
#
# Environment: STAGING_DIR (the installed tree), IMAGE_FILE (the .tar.gz to write), APP_VERSION.
set -euo pipefail

die() { echo "package-local-image: $*" >&2; exit 1; }

: "${STAGING_DIR:?STAGING_DIR is not set}"
: "${IMAGE_FILE:?IMAGE_FILE is not set}"
: "${APP_VERSION:?APP_VERSION is not set}"
[ -f "$STAGING_DIR/opt/app/server.py" ] || die "no app in $STAGING_DIR; install-app.sh must run first"
case "$APP_VERSION" in
  *[!0-9A-Za-z._+-]*) die "APP_VERSION has characters other than letters, digits, '.', '_', '+', '-'" ;;
esac

created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
cat > "$STAGING_DIR/image.json" <<JSON
{
  "format": "pipeline-local-image/1",
  "entrypoint": ["python3", "opt/app/server.py"],
  "env": {"APP_VERSION": "$APP_VERSION", "DRAIN_SECONDS": "3", "EXTRA_PORTS": "8081"},
  "port": 8080,
  "health_path": "/health",
  "app_version": "$APP_VERSION",
  "created": "$created"
}
JSON

mkdir -p "$(dirname "$IMAGE_FILE")"
tmp="$IMAGE_FILE.partial"
tar -C "$STAGING_DIR" --owner=0 --group=0 --numeric-owner -czf "$tmp" image.json opt
mv -f "$tmp" "$IMAGE_FILE"
rm -rf "$STAGING_DIR"
echo "package-local-image: wrote $IMAGE_FILE"
