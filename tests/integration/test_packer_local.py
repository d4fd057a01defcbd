"""Real Packer 1.6.6 runs of the local source, and the baked app run from the image tarball.

The app package is served to the build by a local http.server on 127.0.0.1 with a fake SAS
signature in the URL, so every test also checks the URL never shows in output or errors.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.bake import check_templates, fingerprint, run_packer
from pipeline.errors import BakeError

PACKER_DIR = Path(__file__).resolve().parents[2] / "packer"
SIG = "c2VjcmV0LXNpZ25hdHVyZQ%3D%3D"
needs_packer = pytest.mark.skipif(shutil.which("packer") is None, reason="packer is not installed")


def make_package(path: Path, *, health_status: int | None = None) -> str:
    """Tar packer/app (plus an optional HEALTH_STATUS file) like the pipeline will; return its sha256."""
    with tarfile.open(path, "w:gz") as tar:
        tar.add(PACKER_DIR / "app" / "server.py", arcname="server.py")
        if health_status is not None:
            data = f"{health_status}\n".encode()
            info = tarfile.TarInfo("HEALTH_STATUS")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


@pytest.fixture(scope="module")
def package_server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """Serve a directory over HTTP on 127.0.0.1 (a stand-in for the Azurite SAS URL)."""
    root = tmp_path_factory.mktemp("packages")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def sas_url(base: str, name: str) -> str:
    return f"{base}/{name}?sv=2025-11-05&sp=r&se=2030-01-01T00%3A00%3A00Z&sig={SIG}"


def bake(tmp_path: Path, url: str, *, version: str, sha256: str = "", progress=None):
    variables = {"app_version": version, "image_version": version, "app_package_sha256": sha256}
    summary = check_templates(PACKER_DIR, build="app", source="null.local",
                              variables={**variables, "app_package_url": url})
    digest = fingerprint(template_dir=PACKER_DIR, variables=variables, exclude=summary.sensitive)
    return digest, run_packer(
        PACKER_DIR, build="app", source="null.local", output_dir=tmp_path / "out",
        variables={**variables, "fingerprint": digest}, secrets={"app_package_url": url},
        progress=progress, cwd=tmp_path,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class RunningImage:
    """Run an extracted image the way the emulator does: entrypoint, cwd = root, env from the manifest."""

    def __init__(self, root: Path, image: dict, *, instance_id: str):
        self.port = free_port()
        self.extra_port = free_port()  # the staging port (EXTRA_PORTS), free on this machine
        env = {
            "PATH": os.environ.get("PATH", ""), **image["env"],
            "BIND_ADDRESS": "127.0.0.1", "PORT": str(self.port), "EXTRA_PORTS": str(self.extra_port),
            "INSTANCE_ID": instance_id, "COMPUTER_NAME": f"vm{instance_id}", "CUSTOM_DATA_FILE": str(root / "cd"),
        }
        argv = [sys.executable if image["entrypoint"][0] == "python3" else image["entrypoint"][0],
                *image["entrypoint"][1:]]
        self.proc = subprocess.Popen(argv, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, needle: str, *, timeout: float = 20.0) -> str:
        """Take stdout lines until one contains `needle`; bounded by `timeout`."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.output.append(line)
            if needle in line:
                return line
        raise AssertionError(f"app never printed {needle!r}; output: {self.output}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=15)
        self._reader.join(timeout=15)
        while not self._lines.empty():
            line = self._lines.get_nowait()
            if line is not None:
                self.output.append(line)
        return code


def extract(tarball: Path, dest: Path) -> dict:
    with tarfile.open(tarball, "r:gz") as tar:
        names = tar.getnames()
        assert "image.json" in names and "opt/app/server.py" in names and "opt/app/VERSION" in names
        assert all(not n.startswith(("/", "..")) for n in names)
        tar.extractall(dest, filter="data")
    return json.loads((dest / "image.json").read_text())


@pytest.mark.slow
@needs_packer
def test_local_bake_produces_a_runnable_image(tmp_path: Path, package_server, caplog):
    base, root = package_server
    sha = make_package(root / "app-1.4.0.tar.gz")
    url = sas_url(base, "app-1.4.0.tar.gz")
    progress: list[str] = []
    caplog.set_level("DEBUG")

    digest, result = bake(tmp_path, url, version="1.4.0", sha256=sha, progress=progress.append)

    tarball = tmp_path / "out" / "1.4.0.tar.gz"
    assert result.selector == "app.null.local"
    assert result.files == (str(tarball),) and result.artifact_id == str(tarball)
    assert dict(result.custom_data) == {"app_version": "1.4.0", "image_version": "1.4.0", "fingerprint": digest}
    manifest = json.loads((tmp_path / "out" / "packer-manifest.json").read_text())
    assert manifest["last_run_uuid"] == result.run_uuid
    assert any("sha256 verified" in line for line in progress)
    for text in (*progress, caplog.text, json.dumps(manifest)):
        assert SIG not in text and "sig=" + SIG not in text
    assert not (tmp_path / "out" / "staging" / "1.4.0").exists()

    image = extract(tarball, tmp_path / "image")
    assert image["format"] == "pipeline-local-image/1"
    assert image["entrypoint"] == ["python3", "opt/app/server.py"]
    assert image["env"] == {"APP_VERSION": "1.4.0", "DRAIN_SECONDS": "3", "EXTRA_PORTS": "8081"}
    assert (image["port"], image["health_path"], image["app_version"]) == (8080, "/health", "1.4.0")
    assert image["created"].endswith("Z")
    assert (tmp_path / "image" / "opt/app/VERSION").read_text().strip() == "1.4.0"

    app = RunningImage(tmp_path / "image", image, instance_id="3")
    try:
        app.wait_for("serving version 1.4.0")
        assert get(app.port, image["health_path"]) == (200, b'{"status": "ok"}\n')
        status, body = get(app.port, "/version")
        info = json.loads(body)
        assert status == 200
        assert info == {"version": "1.4.0", "instance_id": "3", "computer_name": "vm3", "hostname": socket.gethostname()}
        status, body = get(app.port, "/")
        assert status == 200 and b"1.4.0" in body
        assert json.loads(get(app.extra_port, "/version")[1]) == info  # the staging port serves the same app
        assert get(app.port, "/nope")[0] == 404
        app.wait_for('"GET /version HTTP/1.1" 200')
        # SIGTERM drains: the probe sees 503 (out of rotation) while requests still being sent are served.
        app.proc.send_signal(signal.SIGTERM)
        app.wait_for("draining for 3s")
        assert get(app.port, "/health")[0] == 503
        assert get(app.port, "/version")[0] == 200
    finally:
        code = app.stop()
    assert code == 0
    assert any("shutting down" in line for line in app.output)


@pytest.mark.slow
@needs_packer
def test_unhealthy_image_answers_its_health_status(tmp_path: Path, package_server):
    base, root = package_server
    make_package(root / "app-bad.tar.gz", health_status=503)
    _, result = bake(tmp_path, sas_url(base, "app-bad.tar.gz"), version="1.4.1")
    image = extract(Path(result.files[0]), tmp_path / "image")
    app = RunningImage(tmp_path / "image", image, instance_id="0")
    try:
        app.wait_for("serving version 1.4.1")
        status, body = get(app.port, "/health")
        assert status == 503 and json.loads(body) == {"status": "unhealthy"}
        assert get(app.port, "/version")[0] == 200
    finally:
        assert app.stop() == 0


@pytest.mark.slow
@needs_packer
def test_manifest_appends_and_result_follows_the_last_run(tmp_path: Path, package_server):
    base, root = package_server
    make_package(root / "app-2.tar.gz")
    url = sas_url(base, "app-2.tar.gz")
    _, first = bake(tmp_path, url, version="2.0.0")
    _, second = bake(tmp_path, url, version="2.1.0")
    manifest = json.loads((tmp_path / "out" / "packer-manifest.json").read_text())
    assert len(manifest["builds"]) == 2
    assert first.run_uuid != second.run_uuid == manifest["last_run_uuid"]
    assert second.custom_data["image_version"] == "2.1.0"
    assert second.files == (str(tmp_path / "out" / "2.1.0.tar.gz"),)


@pytest.mark.slow
@needs_packer
def test_checksum_mismatch_is_a_bake_error_without_the_url(tmp_path: Path, package_server):
    base, root = package_server
    make_package(root / "app-3.tar.gz")
    with pytest.raises(BakeError) as err:
        bake(tmp_path, sas_url(base, "app-3.tar.gz"), version="3.0.0", sha256="0" * 64)
    message = str(err.value)
    assert "sha256" in message and "\n" not in message
    assert SIG not in message and base not in message


@pytest.mark.slow
@needs_packer
def test_missing_package_is_a_bake_error_without_the_url(tmp_path: Path, package_server):
    base, _ = package_server
    progress: list[str] = []
    with pytest.raises(BakeError) as err:
        bake(tmp_path, sas_url(base, "missing.tar.gz"), version="3.0.1", progress=progress.append)
    assert "downloading the app package failed" in str(err.value)
    assert all(SIG not in text for text in (str(err.value), *progress))


@pytest.mark.slow
@needs_packer
@pytest.mark.parametrize("source", ["azure-arm.ubuntu", "null.local"])
def test_packer_validate_accepts_both_sources(tmp_path: Path, source: str):
    env = {**os.environ, "PKR_VAR_app_package_url": "https://x.blob.core.windows.net/p/a.tar.gz?sig=x",
           "CHECKPOINT_DISABLE": "1"}
    syntax = subprocess.run(["packer", "validate", "-syntax-only", str(PACKER_DIR)], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr
    full = subprocess.run(
        ["packer", "validate", f"-only=app.{source}", "-var", "app_version=1.4.0", "-var", "image_version=1.4.0",
         "-var", "subscription_id=00000000-0000-0000-0000-000000000000", str(PACKER_DIR)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert full.returncode == 0, full.stdout + full.stderr


@pytest.mark.slow
@needs_packer
def test_packer_validate_catches_a_bad_variable(tmp_path: Path):
    env = {**os.environ, "PKR_VAR_app_package_url": "ftp://nope", "CHECKPOINT_DISABLE": "1"}
    result = subprocess.run(
        ["packer", "validate", "-var", "app_version=1.4.0", "-var", "image_version=1.4", str(PACKER_DIR)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "image_version must be MAJOR.MINOR.PATCH" in result.stdout + result.stderr
    assert "app_package_url must start with" in result.stdout + result.stderr


def test_secrets_reach_packer_only_through_the_environment(tmp_path: Path):
    """A stand-in `packer` records its argv and environment and echoes the secret back."""
    secret = f"https://acct.blob.core.windows.net/p/a.tar.gz?sv=1&sig={SIG}"
    record = tmp_path / "record"
    fake = tmp_path / "fake-packer"
    out = tmp_path / "out"
    fake.write_text(f"""#!/usr/bin/env bash
printf '%s\\n' "$@" > {record}.argv
printf '%s' "$PKR_VAR_app_package_url" > {record}.env
echo "1,,ui,say,==> app.null.local: fetching $PKR_VAR_app_package_url"
echo "1,app.null.local,artifact,0,builder-id,packer.post-processor.artifice"
echo "1,app.null.local,artifact,0,file,0,{out}/9.9.9.tar.gz"
cat > {out}/packer-manifest.json <<'JSON'
{{"builds": [{{"name": "local", "builder_type": "null", "packer_run_uuid": "u1", "artifact_id": "",
  "files": [{{"name": "{out}/9.9.9.tar.gz", "size": 1}}], "custom_data": {{"image_version": "9.9.9"}}}}],
 "last_run_uuid": "u1"}}
JSON
""")
    fake.chmod(0o755)
    progress: list[str] = []
    result = run_packer(
        PACKER_DIR, build="app", source="null.local", output_dir=out, packer=str(fake),
        variables={"app_version": "9.9.9", "image_version": "9.9.9"}, secrets={"app_package_url": secret},
        progress=progress.append, environ={"PATH": os.environ["PATH"]},
    )
    argv = (tmp_path / "record.argv").read_text()
    assert secret not in argv and SIG not in argv
    assert "-only=app.null.local" in argv and "image_version=9.9.9" in argv
    assert (tmp_path / "record.env").read_text() == secret
    assert progress == ["==> app.null.local: fetching <redacted>"]
    assert result.run_uuid == "u1" and result.files == (f"{out}/9.9.9.tar.gz",)


def test_a_build_that_makes_nothing_is_an_error(tmp_path: Path):
    fake = tmp_path / "fake-packer"
    fake.write_text("#!/bin/sh\necho '1,,ui,say,==> Builds finished but no artifacts were created.'\n")
    fake.chmod(0o755)
    with pytest.raises(BakeError, match="produced no artifact"):
        run_packer(PACKER_DIR, build="app", source="null.local", output_dir=tmp_path / "out", packer=str(fake),
                   variables={"app_version": "1.0.0", "image_version": "1.0.0"},
                   secrets={"app_package_url": "file:///x"}, environ={"PATH": os.environ["PATH"]})
