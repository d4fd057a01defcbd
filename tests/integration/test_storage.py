"""Blob storage, the ledger I/O and the release lock against a real Azurite, through the real SDK."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import tenacity

from pipeline import ledger as L
from pipeline.azure import storage
from pipeline.errors import LockHeld, NotReady, ResourceMissing
from pipeline.lock import ReleaseLock, break_lock, lock_holder

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def container(blob_service, blob_container):
    storage.ensure_container(blob_service, blob_container)
    return blob_container


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def http_put_blob(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="PUT", headers={"x-ms-blob-type": "BlockBlob"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


# ---------------------------------------------------------------------------------------------- packages + SAS


def test_ensure_container_twice_is_a_no_op(blob_service, container):
    storage.ensure_container(blob_service, container)
    assert blob_service.get_container_client(container).exists()


def test_uploaded_package_is_readable_with_its_sas_and_the_sas_is_read_only(blob_service, container, tmp_path):
    package = tmp_path / "app-1.0.7.tar.gz"
    package.write_bytes(b"package bytes \x00\x01")
    url = storage.upload_file(blob_service, container=container, name="hello/app-1.0.7.tar.gz", path=package)
    assert url.endswith(f"/{container}/hello/app-1.0.7.tar.gz") and "?" not in url

    status, _ = http_get(url)
    assert status in (403, 404)  # private container: no anonymous read

    signed = storage.make_read_sas(blob_service, container=container, name="hello/app-1.0.7.tar.gz")
    assert http_get(signed.secret_url) == (200, b"package bytes \x00\x01")
    assert http_put_blob(signed.secret_url, b"tampered") == 403
    assert http_get(signed.secret_url) == (200, b"package bytes \x00\x01")


def test_signed_url_never_shows_its_token(blob_service, container, tmp_path):
    (tmp_path / "p").write_bytes(b"x")
    storage.upload_file(blob_service, container=container, name="p", path=tmp_path / "p")
    signed = storage.make_read_sas(blob_service, container=container, name="p")
    assert "sig=" in signed.secret_url
    for shown in (str(signed), repr(signed), f"{signed}"):
        assert signed.token not in shown and "sig=" not in shown.replace("sig=<redacted>", "")


def test_expired_sas_is_denied(blob_service, container, tmp_path):
    (tmp_path / "p").write_bytes(b"x")
    storage.upload_file(blob_service, container=container, name="p", path=tmp_path / "p")
    made_long_ago = datetime.now(timezone.utc) - timedelta(hours=3)
    signed = storage.make_read_sas(blob_service, container=container, name="p", now=made_long_ago)
    assert signed.expires_at < datetime.now(timezone.utc)
    status, body = http_get(signed.secret_url)
    assert status == 403, body


def test_sas_longer_than_an_hour_is_refused(blob_service, container):
    with pytest.raises(ValueError, match="within"):
        storage.make_read_sas(blob_service, container=container, name="p", expires_in=timedelta(hours=2))


# ---------------------------------------------------------------------------------------------- JSON + ETags


def test_json_blob_conditional_writes(blob_service, container):
    with pytest.raises(ResourceMissing):
        storage.get_json(blob_service, container=container, name="state.json")
    etag = storage.put_json(blob_service, container=container, name="state.json", data={"n": 1}, create_only=True)
    with pytest.raises(storage.ConcurrentUpdate, match="already exists"):
        storage.put_json(blob_service, container=container, name="state.json", data={"n": 9}, create_only=True)

    current = storage.get_json(blob_service, container=container, name="state.json")
    assert current == storage.JsonBlob(data={"n": 1}, etag=etag)
    new_etag = storage.put_json(blob_service, container=container, name="state.json", data={"n": 2}, if_match=etag)
    assert new_etag != etag
    with pytest.raises(storage.ConcurrentUpdate, match="changed by another writer"):
        storage.put_json(blob_service, container=container, name="state.json", data={"n": 3}, if_match=etag)
    assert storage.get_json(blob_service, container=container, name="state.json").data == {"n": 2}


def test_put_json_into_a_missing_container_says_so(blob_service):
    with pytest.raises(ResourceMissing, match="container no-such-container"):
        storage.put_json(blob_service, container="no-such-container", name="x.json", data={})


def _note(fleet: str, i: int) -> L.Event:
    return L.new_event("note", fleet=fleet, who=f"writer-{i}", at=datetime(2025, 1, 1, tzinfo=timezone.utc), text=str(i))


def test_concurrent_ledger_writers_all_land(blob_service, container):
    writers, events_each = 4, 5
    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            start.wait()
            for i in range(events_each):
                storage.update_ledger(
                    blob_service,
                    container=container,
                    environment="local",
                    change=lambda ledger, w=w, i=i: L.record(ledger, _note(f"w{w}", i)),
                    attempts=50,
                )
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ledger, etag = storage.read_ledger(blob_service, container=container, environment="local")
    assert etag is not None
    seen = sorted((e.fleet, e.details["text"]) for e in ledger.history)
    assert seen == sorted((f"w{w}", str(i)) for w in range(writers) for i in range(events_each))


def test_lost_race_rereads_and_reapplies(blob_service, container):
    """The first attempt's change runs on a stale read; the retry sees the other writer's event."""
    calls = []

    def change(ledger: L.Ledger) -> L.Ledger:
        calls.append(len(ledger.history))
        if len(calls) == 1:  # another writer sneaks in between our read and our write
            storage.update_ledger(
                blob_service, container=container, environment="race", change=lambda l: L.record(l, _note("other", 0))
            )
        return L.record(ledger, _note("mine", 1))

    result = storage.update_ledger(blob_service, container=container, environment="race", change=change, sleep=lambda s: None)
    assert calls == [0, 1]
    assert [e.fleet for e in result.history] == ["other", "mine"]
    stored, _ = storage.read_ledger(blob_service, container=container, environment="race")
    assert stored == result


def test_ledger_refusals_pass_through_without_retry(blob_service, container):
    attempts = []

    def promote_nothing(ledger: L.Ledger) -> L.Ledger:
        attempts.append(1)
        return L.record(ledger, L.new_event("promoted", fleet="ghost", who="me", at=datetime.now(timezone.utc)))

    with pytest.raises(NotReady, match="ghost"):
        storage.update_ledger(blob_service, container=container, environment="refuse", change=promote_nothing)
    assert len(attempts) == 1
    ledger, etag = storage.read_ledger(blob_service, container=container, environment="refuse")
    assert etag is None and ledger.history == ()


# ---------------------------------------------------------------------------------------------- release lock


def make_lock(service, container, *, task="release", who="alice", lease_seconds=60, renew_every=None):
    return ReleaseLock(
        service, container=container, environment="local", task=task, who=who,
        lease_seconds=lease_seconds, renew_every=renew_every,
    )  # fmt: skip


def test_second_acquire_fails_at_once_naming_the_holder(blob_service, container):
    with make_lock(blob_service, container, who="alice", task="release"):
        holder = lock_holder(blob_service, container=container, environment="local")
        assert (holder.who, holder.task, holder.pid) == ("alice", "release", os.getpid())
        with pytest.raises(LockHeld, match=r"held by alice on .*\(pid \d+, task release\)") as caught:
            make_lock(blob_service, container, who="bob", task="rollback").acquire()
        assert "invoke lock.break" in str(caught.value)


def test_release_then_acquire_works(blob_service, container):
    with make_lock(blob_service, container, who="alice"):
        pass
    assert lock_holder(blob_service, container=container, environment="local") is None
    with make_lock(blob_service, container, who="bob") as lock:
        assert lock.holder.who == "bob"
        assert lock_holder(blob_service, container=container, environment="local").who == "bob"


def test_renewal_keeps_the_lease_alive(blob_service, container):
    """A 15 s lease renewed every 0.2 s: after several renewals the lock is still ours and still exclusive."""
    lock = make_lock(blob_service, container, lease_seconds=15, renew_every=0.2)
    with lock:
        renewed = threading.Event()
        original = lock._lease.renew
        count = []

        def counting_renew():
            original()
            count.append(1)
            if len(count) >= 3:
                renewed.set()

        lock._lease.renew = counting_renew
        assert renewed.wait(timeout=30)
        lock.check()
        with pytest.raises(LockHeld):
            make_lock(blob_service, container, who="bob").acquire()


def test_break_lock_lets_a_new_holder_in_and_the_old_one_notices(blob_service, container):
    old = make_lock(blob_service, container, who="alice", renew_every=0.2)
    old.acquire()
    broken = break_lock(blob_service, container=container, environment="local")
    assert broken is not None and broken.who == "alice"
    with make_lock(blob_service, container, who="bob") as new:
        assert new.holder.who == "bob"
        # The old holder's next renewal fails; from then on check() refuses to go on.
        def old_noticed() -> bool:
            try:
                old.check()
            except LockHeld as err:
                assert "was lost" in str(err)
                return True
            return False

        wait = tenacity.Retrying(
            retry=tenacity.retry_if_result(lambda noticed: not noticed),
            wait=tenacity.wait_fixed(0.1),
            stop=tenacity.stop_after_delay(30),
            retry_error_callback=lambda state: state.outcome.result(),
        )
        assert wait(old_noticed)
    old.release()  # a no-op on the lease (already lost), must not raise
    assert break_lock(blob_service, container=container, environment="local") is None  # free: a no-op


_HOLD_AND_WAIT = """
import os, sys, time
from azure.storage.blob import BlobServiceClient
from pipeline.lock import ReleaseLock
service = BlobServiceClient.from_connection_string(os.environ["TEST_BLOB_CONNECTION_STRING"])
lock = ReleaseLock(service, container=sys.argv[1], environment="local", task="release", who="killed",
                   lease_seconds=60)
lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_a_rerun_on_the_same_machine_takes_over_the_lock_of_a_killed_holder(azurite, blob_service, container):
    """A release killed mid-step (SIGKILL) cannot release its lease; the re-run on this machine sees that the
    holder's process is gone and takes the lock at once instead of waiting up to 60 s for the lease to lapse.
    (A holder on another machine can not be checked: there the lease's expiry frees the lock.)"""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD_AND_WAIT, container], cwd=REPO, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "TEST_BLOB_CONNECTION_STRING": azurite.connection_string})
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld, match="held by killed"):
            make_lock(blob_service, container, who="bob").acquire()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with make_lock(blob_service, container, who="bob"):
        assert lock_holder(blob_service, container=container, environment="local").who == "bob"


# ---------------------------------------------------------------------------------------------- Clients.blob


def test_clients_blob_for_a_local_environment_talks_to_azurite(azurite, tmp_path):
    """The pipeline's own client factory, from settings + cloud file, reaches Azurite end to end."""
    from pipeline.azure.clients import Clients
    from pipeline.config import load_settings
    from pipeline.local.cloudfile import LocalCloud, write_cloud_file

    cloud_file = tmp_path / "cloud.json"
    write_cloud_file(
        cloud_file,
        LocalCloud(
            arm_endpoint="https://127.0.0.1:1", ca_file=str(tmp_path / "ca.pem"),
            subscription_id="11111111-1111-1111-1111-111111111111", tenant_id="22222222-2222-2222-2222-222222222222",
            token="t", blob_endpoint=azurite.blob_endpoint, storage_account="devstoreaccount1",
            blob_connection_string=azurite.connection_string, control_endpoint="https://127.0.0.1:1/_emulator",
            state_dir=str(tmp_path),
        ),
    )  # fmt: skip
    settings = load_settings(path=REPO / "pipeline.toml", environ={"PIPELINE_LOCAL_CLOUD": str(cloud_file)})
    with Clients.for_settings(settings) as clients:
        container = "t-clients-" + settings.storage.ledger_container
        storage.ensure_container(clients.blob, container)
        ledger = storage.update_ledger(
            clients.blob, container=container, environment=settings.environment,
            change=lambda l: L.record(l, L.new_event("staged", fleet="hello-1", who="me", at=datetime.now(timezone.utc), image_version="1.0.1", color="blue")),
        )  # fmt: skip
        assert storage.read_ledger(clients.blob, container=container, environment="local") == (ledger, storage.get_json(clients.blob, container=container, name="local/ledger.json").etag)
        assert ledger.staged == "hello-1"
