#!/usr/bin/env bash
# Install the sample app under a ROOT prefix. Shared by both Packer sources:
#   Azure build VM:  ROOT=/                (also installs and enables a systemd unit)
#   local cloud:     ROOT=<staging dir>    (the image's filesystem before it is tarred)
#
# Environment:
#   ROOT                 install prefix (required)
#   APP_VERSION          version written to $ROOT/opt/app/VERSION (required)
#   APP_PACKAGE_URL      read-only (SAS) URL of the app .tar.gz: https://, http:// or file://.
#                        A secret: it is never printed. Falls back to PKR_VAR_app_package_url.
#   APP_PACKAGE_SHA256   expected sha256 of the package; empty skips the check
#
# The package's root holds server.py (and anything else the app needs).
# Never add `set -x` here: it would print the SAS URL.
set -euo pipefail

die() { echo "install-app: $*" >&2; exit 1; }

ROOT="${ROOT:-}"
APP_VERSION="${APP_VERSION:-}"
APP_PACKAGE_URL="${APP_PACKAGE_URL:-${PKR_VAR_app_package_url:-}}"
APP_PACKAGE_SHA256="${APP_PACKAGE_SHA256:-}"

[ -n "$ROOT" ] || die "ROOT is not set; set ROOT=/ on a VM or ROOT=<staging dir> locally"
[ -n "$APP_VERSION" ] || die "APP_VERSION is not set; pass the app version being baked"
[ -n "$APP_PACKAGE_URL" ] || die "APP_PACKAGE_URL is not set; pass the package URL (PKR_VAR_app_package_url)"

APP_DIR="${ROOT%/}/opt/app"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
package="$work/app.tar.gz"

echo "install-app: downloading app package for version $APP_VERSION"
case "$APP_PACKAGE_URL" in
  file://*)
    src="${APP_PACKAGE_URL#file://}"
    [ -f "$src" ] || die "the app package file:// URL points to no file; check APP_PACKAGE_URL"
    cp "$src" "$package"
    ;;
  https://*|http://*)
    command -v curl >/dev/null || die "curl is not installed; install curl on the build machine"
    # --fail: an HTTP error is an error. The URL is passed through a config on stdin so it
    # never shows in the process list.
    printf 'url = "%s"\n' "$APP_PACKAGE_URL" | curl --fail --silent --show-error --location \
      --retry 5 --retry-delay 2 --retry-connrefused --connect-timeout 10 --max-time 300 \
      --output "$package" --config - \
      || die "downloading the app package failed (curl exit $?); check the SAS URL has not expired"
    ;;
  *)
    die "APP_PACKAGE_URL must start with https://, http:// or file://"
    ;;
esac

if [ -n "$APP_PACKAGE_SHA256" ]; then
  actual="$(sha256sum "$package" | cut -d' ' -f1)"
  [ "$actual" = "$APP_PACKAGE_SHA256" ] \
    || die "app package sha256 is $actual, expected $APP_PACKAGE_SHA256; re-upload the package or fix APP_PACKAGE_SHA256"
  echo "install-app: sha256 verified"
fi

mkdir -p "$work/unpacked"
tar -xzf "$package" -C "$work/unpacked" --no-same-owner \
  || die "the app package is not a readable .tar.gz; rebuild it"
[ -f "$work/unpacked/server.py" ] || die "the app package has no server.py at its root; rebuild it from packer/app"

mkdir -p "$(dirname "$APP_DIR")"
rm -rf "$APP_DIR"
mv "$work/unpacked" "$APP_DIR"
printf '%s\n' "$APP_VERSION" > "$APP_DIR/VERSION"
chmod -R u=rwX,go=rX "$APP_DIR"
echo "install-app: installed app $APP_VERSION in $APP_DIR"

if [ "$ROOT" = "/" ]; then
  id app >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin app
  cat > /etc/systemd/system/app.service <<'UNIT'
[Unit]
Description=Pipeline sample app
After=network-online.target
Wants=network-online.target

[Service]
User=app
Environment=BIND_ADDRESS=0.0.0.0
Environment=PORT=8080
# The staging rule's and the per-instance (NAT) backend port: the NSG opens it to allow_staging_from only.
Environment=EXTRA_PORTS=8081
# On stop, /health answers 503 this long (probe interval x threshold, plus margin) so the load balancer
# takes the VM out of rotation before the app exits.
Environment=DRAIN_SECONDS=15
TimeoutStopSec=30
EnvironmentFile=-/etc/default/app
WorkingDirectory=/opt/app
ExecStart=/usr/bin/python3 /opt/app/server.py
Restart=always
RestartSec=2
KillSignal=SIGTERM

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable app.service
  echo "install-app: enabled app.service on ports 8080 (production, probe) and 8081 (staging, per instance)"
fi
