"""`vestibule voice`: write one call announcement (chime, then the phrase per language) to a WAV."""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

LANGS = ("ru", "zh", "en")


def register(sub: argparse._SubParsersAction) -> None:
    voice = sub.add_parser("voice", help="write one call announcement to a WAV file (offline, espeak-ng)")
    voice.add_argument("--lang", action="append", choices=LANGS,
                       help="phrase language; repeat for several, in order (default: the site's, or all three)")
    voice.add_argument("--ticket", required=True, help="ticket number, e.g. A023")
    voice.add_argument("--room", required=True, help="room, e.g. 12")
    voice.add_argument("--out", required=True, type=Path, help="the WAV to write")
    voice.add_argument("--config", help="node config: its languages, voice settings and phrase cache")
    voice.add_argument("--no-chime", action="store_true", help="the phrases only")
    voice.set_defaults(func=_voice)


def _voice(args) -> int:
    from kiosk.features.calls.voice import Voice, VoiceError
    if not re.fullmatch(r"[A-Z][0-9]{3,4}", args.ticket):
        print(f"vestibule voice: ticket {args.ticket!r}: expected a letter and three digits, e.g. A023",
              file=sys.stderr)
        return 2
    languages, chime, rate = list(LANGS), True, 140
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vestibule" / "voice"
    if args.config:
        from kiosk.node.config import ConfigError, load_node_config
        try:
            config = load_node_config(args.config)
        except ConfigError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        languages = config.voice.languages or list(config.site.languages)
        chime, rate = config.voice.chime, config.voice.rate_wpm
        cache = config.node.store.parent / "voice"
    voice = Voice(cache, languages=args.lang or languages, chime=chime and not args.no_chime, rate_wpm=rate)
    try:
        out = voice.render(args.ticket, args.room, args.out)
    except VoiceError as exc:
        print(f"vestibule voice: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0
