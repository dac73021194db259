"""The `smvue` command (CONTRACT.md, "Command line")."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from smvue.errors import CliError


def _emulator(args: argparse.Namespace) -> None:
    from calendar_emulator.server import serve_forever
    from calendar_emulator.state import EmulatorConfig

    config = EmulatorConfig(graph_max_subscription_minutes=args.graph_max_subscription_minutes)
    tls = None
    if args.tls:
        from calendar_emulator.tls import ensure_certificates

        tls = ensure_certificates()
    serve_forever(args.host, args.port, config, tls)


def _gateway(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from smvue_core.settings import Settings
    from webhook_gateway.server import serve

    try:
        settings = Settings.from_env()
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if not os.environ.get("SMVUE_PUBLIC_URL"):
        # Providers deliver to where we listen unless told otherwise (a tunnel, a proxy).
        settings = replace(settings, public_url=f"http://{args.host}:{args.port}")
    serve(args.host, args.port, settings)


def _demo(args: argparse.Namespace) -> None:
    from smvue.demo.run import run_demo

    run_demo(keep=args.keep, ui=args.ui)


def _up(args: argparse.Namespace) -> None:
    from smvue.up import StackError, StackOptions, run_up
    from smvue_core.settings import Settings

    try:
        run_up(Settings.from_env(), StackOptions(gateway_port=args.port, ui=args.ui, ui_port=args.ui_port))
    except StackError as exc:
        raise CliError(str(exc)) from None


def _status(args: argparse.Namespace) -> None:
    from smvue_core.opstore import OpStore
    from smvue_core.opstore.connections import ConnectionRepository
    from smvue_core.security.cipher import TokenCipher
    from smvue_core.settings import Settings

    settings = Settings.from_env()
    if settings.database_url is None and not settings.opstore_path.exists():
        raise CliError(f"no operational store at {settings.opstore_path} (nothing connected yet)")
    repo = ConnectionRepository(OpStore(settings.opstore_target), TokenCipher(settings.secret_key()))
    connections = repo.list()
    if not connections:
        print("no connections")
    for c in connections:
        error = (c.last_error or "-").replace("\n", " ")
        print(
            f"{c.connection_id}  {c.provider:<9}  {c.status:<15}  last sync {c.last_synced_at or 'never'}  last error {error}"
        )


def _rotate_key(args: argparse.Namespace) -> None:
    from smvue_core.opstore import OpStore
    from smvue_core.opstore.connections import ConnectionRepository
    from smvue_core.security.cipher import SecretDecryptError, TokenCipher
    from smvue_core.settings import Settings

    settings = Settings.from_env()
    try:
        cipher = TokenCipher(settings.secret_key())
        count = ConnectionRepository(OpStore(settings.opstore_target), cipher).rotate_secrets()
    except (ValueError, SecretDecryptError) as exc:
        raise CliError(str(exc)) from None
    print(f"re-encrypted {count} stored secrets under the first key of SMVUE_SECRET_KEY")


def _dashboard(args: argparse.Namespace) -> None:
    from datetime import UTC, datetime

    import duckdb

    from smvue_core.dashboard.render import build_dashboard
    from smvue_core.settings import Settings

    settings = Settings.from_env()
    out = args.out or settings.home / "dashboard.html"
    try:
        path = build_dashboard(settings.published_path, settings.warehouse_key, out, datetime.now(UTC))
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    except duckdb.Error as exc:
        raise CliError(f"cannot read {settings.published_path}: {str(exc).splitlines()[0]}") from None
    print(f"dashboard written to {path}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smvue", description="SMVue calendar pipeline")
    commands = parser.add_subparsers(dest="command", required=True)

    emulator = commands.add_parser("emulator", help="serve the calendar emulator")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8765)
    emulator.add_argument(
        "--graph-max-subscription-minutes",
        type=int,
        default=4230,
        help="longest Graph subscription the emulator grants",
    )
    emulator.add_argument(
        "--tls",
        action="store_true",
        help="serve https with a self-signed certificate kept in SMVUE_HOME (prints its CA file)",
    )
    emulator.set_defaults(func=_emulator)

    up = commands.add_parser("up", help="run the gateway and the Dagster daemon until stopped")
    up.add_argument("--port", type=int, default=8780, help="the gateway's port")
    up.add_argument("--ui", action="store_true", help="also serve the Dagster UI")
    up.add_argument("--ui-port", type=int, default=3000)
    up.set_defaults(func=_up)

    gateway = commands.add_parser("gateway", help="serve the webhook gateway and app API")
    gateway.add_argument("--host", default="127.0.0.1")
    gateway.add_argument("--port", type=int, default=8780)
    gateway.set_defaults(func=_gateway)

    status = commands.add_parser("status", help="one line per connection")
    status.set_defaults(func=_status)

    rotate = commands.add_parser(
        "rotate-key", help="re-encrypt stored tokens under the first key of SMVUE_SECRET_KEY (new,old)"
    )
    rotate.set_defaults(func=_rotate_key)

    dashboard = commands.add_parser(
        "dashboard", help="write the cadence dashboard (HTML) from the published tables"
    )
    dashboard.add_argument(
        "--out", type=Path, default=None, help="where to write it (default $SMVUE_HOME/dashboard.html)"
    )
    dashboard.set_defaults(func=_dashboard)

    demo = commands.add_parser("demo", help="the end-to-end scenario behind `make demo`")
    demo.add_argument(
        "--keep", action="store_true", help="leave the services (and the Dagster UI) running afterwards"
    )
    demo.add_argument("--ui", action="store_true", help="also serve the Dagster UI while the demo runs")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    from smvue_core.security.files import owner_only_umask
    from smvue_core.settings import ConfigError

    args = build_parser().parse_args(argv)
    # Before anything is written: every file and folder under SMVUE_HOME, and what the children
    # (the gateway, the daemon, its runs) create there, is owner-only.
    owner_only_umask()
    try:
        args.func(args)
    except (CliError, ConfigError) as exc:
        print(f"smvue {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"smvue {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
