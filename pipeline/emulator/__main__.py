"""`python -m pipeline.emulator`: run the local Azure cloud in the foreground until Ctrl-C or SIGTERM.

Secrets come from the environment, never flags: EMULATOR_BLOB_CONNECTION_STRING (where image VHD blobs are
read from, i.e. Azurite) and optionally EMULATOR_TOKEN (else a token kept in the state directory).
`--role FILE` (or EMULATOR_ROLE_FILE) enforces an RBAC role; a file that does not parse stops the start with
one line (exit 2).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path

from .options import EmulatorOptions
from .server import EmulatorServer, persistent_token


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = EmulatorOptions()
    parser = argparse.ArgumentParser(prog="python -m pipeline.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=defaults.state_dir, help="where resources persist")
    parser.add_argument("--cloud-file", type=Path, default=Path(".pipeline/local/cloud.json"),
                        help="the connection file written for clients")
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port, help="0 picks a free port")
    parser.add_argument("--loopback-block", type=int, default=defaults.loopback_block,
                        help="second octet of the 127.x loopback addresses given to frontends (instances: +1)")
    parser.add_argument("--provisioning-seconds", type=float, default=defaults.provisioning_seconds)
    parser.add_argument("--probe-time-scale", type=float, default=defaults.probe_time_scale)
    parser.add_argument("--poll-ms", type=int, default=defaults.poll_ms)
    parser.add_argument("--role", type=Path, default=None, metavar="FILE",
                        help="enforce this RBAC role definition (az role definition JSON, e.g. "
                             "deploy/azure-role.json): requests it does not grant get 403 AuthorizationFailed; "
                             "default EMULATOR_ROLE_FILE, else every action is allowed")
    parser.add_argument("--page-size", type=int, default=defaults.page_size,
                        help="items per page of every List reply (at least 1); the rest via nextLink")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def run(options: EmulatorOptions, cloud_file: Path) -> None:
    server = EmulatorServer(options, cloud_file=cloud_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    print(f"local cloud: {server.endpoint}  connection file: {cloud_file}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    import os

    from pipeline.rbac import RoleError, load_role

    args = parse_args(argv)
    role_file = args.role or (Path(os.environ["EMULATOR_ROLE_FILE"]) if os.environ.get("EMULATOR_ROLE_FILE")
                              else None)
    if role_file is not None:
        try:
            load_role(role_file)
        except RoleError as err:
            print(f"python -m pipeline.emulator: {err}", file=sys.stderr)
            raise SystemExit(2) from None
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    options = replace(
        EmulatorOptions(), state_dir=args.state_dir, host=args.host, port=args.port,
        loopback_block=args.loopback_block, provisioning_seconds=args.provisioning_seconds,
        probe_time_scale=args.probe_time_scale, poll_ms=args.poll_ms, role_file=role_file,
        page_size=max(1, args.page_size),
        token=persistent_token(args.state_dir),
    ).with_env()
    asyncio.run(run(options, args.cloud_file))


if __name__ == "__main__":
    main()
