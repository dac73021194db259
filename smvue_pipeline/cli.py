"""The `smvue` command (CONTRACT.md, "Command line")."""

from __future__ import annotations

import argparse
import sys


class CliError(Exception):
    """A failure the user can act on: printed as one line, exit status 1."""


def _emulator(args: argparse.Namespace) -> None:
    from calendar_emulator.server import serve_forever
    from calendar_emulator.state import EmulatorConfig

    config = EmulatorConfig(graph_max_subscription_minutes=args.graph_max_subscription_minutes)
    serve_forever(args.host, args.port, config)


def _demo(args: argparse.Namespace) -> None:
    from smvue_pipeline.demo import run_demo

    run_demo(keep=args.keep)


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
    emulator.set_defaults(func=_emulator)

    demo = commands.add_parser("demo", help="the end-to-end scenario behind `make demo`")
    demo.add_argument("--keep", action="store_true", help="leave the services running afterwards")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except CliError as exc:
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
