"""`vestibule config check`, `vestibule contract schemas`, `vestibule controller`, `vestibule demo`."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    config = sub.add_parser("config", help="configuration tools")
    csub = config.add_subparsers(dest="config_cmd", required=True)
    check = csub.add_parser("check", help="validate a node configuration file")
    check.add_argument("file")
    check.set_defaults(func=_config_check)

    contract = sub.add_parser("contract", help="the MQTT contract")
    ksub = contract.add_subparsers(dest="contract_cmd", required=True)
    schemas = ksub.add_parser("schemas", help="write JSON Schemas generated from the payload models")
    schemas.add_argument("outdir")
    schemas.set_defaults(func=_schemas)

    broker = sub.add_parser("broker", help="site broker tools")
    bsub = broker.add_subparsers(dest="broker_cmd", required=True)
    bconf = bsub.add_parser("config", help="write a production Mosquitto config: users per role, ACL, passwords")
    bconf.add_argument("--config", required=True, help="node config (site and node ids)")
    bconf.add_argument("--out", required=True, help="directory, e.g. /etc/mosquitto/vestibule")
    bconf.add_argument("--port", type=int, default=1883)
    bconf.set_defaults(func=_broker_config)

    ctl = sub.add_parser("controller", help="run the node controller daemon")
    ctl.add_argument("--config", required=True)
    ctl.add_argument("--log-level", default="INFO")
    ctl.set_defaults(func=_controller)

    demo = sub.add_parser("demo", help="the whole entrance on simulated devices")
    demo.add_argument("--config", default=None, help="node config (default: config/example.toml)")
    demo.add_argument("--headless", action="store_true", help="run a scripted scenario without a display")
    demo.add_argument("--duration", type=float, default=60.0, help="seconds the headless scenario runs")
    demo.add_argument("--broker", default=None, help="use this broker (mqtt://HOST:PORT) instead of a private one")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=_demo)


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr)


def _config_check(args) -> int:
    from kiosk.node.config import ConfigError, load_controller_config
    try:
        config = load_controller_config(args.file)
    except ConfigError as exc:
        for key, message in exc.problems:
            print(f"{args.file}: {key}: {message}", file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); the node will not start with this file", file=sys.stderr)
        return 2
    print(f"{args.file}: ok (site {config.site.id}, node {config.node.id}, {len(config.services)} services, "
          f"{len(config.devices)} devices)")
    return 0


def _schemas(args) -> int:
    from mqtt.schemas import write_schemas
    written = write_schemas(Path(args.outdir))
    print(f"wrote {len(written)} schemas to {args.outdir}")
    return 0


def _broker_config(args) -> int:
    from kiosk.node.config import ConfigError, load_node_config as load_config
    from mqtt.broker_config import users_from_config, write_broker_config
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    out = Path(args.out)
    users = write_broker_config(out, config.site.id, config.node.id, users=users_from_config(config), port=args.port)
    print(f"wrote {out}/mosquitto.conf, acl, passwords and a password file per user ({', '.join(users)})")
    print("include it from /etc/mosquitto/conf.d/; point the controller's broker.password_file at "
          "controller.password and keep each kiosk's KIOSK-ID.password beside it")
    return 0


def _controller(args) -> int:
    from foundation.store import StoreError
    from kiosk.node.config import ConfigError, load_controller_config
    setup_logging(args.log_level)
    try:
        config = load_controller_config(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        print("the controller does not start with this file (`vestibule config check` lists the same)",
              file=sys.stderr)
        return 2
    from kiosk.app import build_controller
    try:
        controller = build_controller(config)
    except (OSError, StoreError) as exc:
        # what the checks could not foresee (a file changed since, a store that cannot be opened)
        print(f"{args.config}: the controller cannot start: {exc}", file=sys.stderr)
        return 2
    return controller.run()


def _demo(args) -> int:
    from kiosk.demo import run_demo
    return run_demo(args)
