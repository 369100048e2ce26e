"""Builds a Python game's component: `.venv/bin/python sdk/python/build.py GAME_DIR`.

Reads GAME_DIR/game.toml for `component` (where the component goes) and runs
componentize-py (from the same virtual environment as this interpreter) on the SDK's
`stoa._world` module, with GAME_DIR/src (the game's `app` module) and this SDK on the
Python path, against the repository's wit/ folder:

    componentize-py -d wit -w game componentize stoa._world -p GAME_DIR/src -p sdk/python -o OUT

Python 3.11 or later (for tomllib); the Makefile's `py-games` sets up `.venv`.
"""

import argparse
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

SDK = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("game_dir", type=Path, help="the folder holding game.toml")
    parser.add_argument("--wit", type=Path, default=SDK.parent.parent / "wit", help="the WIT folder")
    args = parser.parse_args()

    manifest = args.game_dir / "game.toml"
    with open(manifest, "rb") as f:
        component = tomllib.load(f).get("component")
    if not isinstance(component, str):
        sys.exit(f'{manifest}: no top-level `component = "..."`')
    out = args.game_dir / component
    out.parent.mkdir(parents=True, exist_ok=True)
    if not (args.game_dir / "src" / "app.py").is_file():
        sys.exit(f"{args.game_dir}: no src/app.py (the game's `app` module)")

    # Written aside and renamed, so a failed build never leaves a component that looks new.
    partial = out.with_name(out.name + ".partial")
    tool = Path(sys.executable).parent / "componentize-py"
    command = [
        str(tool), "-q", "-d", str(args.wit), "-w", "game",
        "componentize", "stoa._world",
        "-p", str(args.game_dir / "src"), "-p", str(SDK),
        "-o", str(partial),
    ]  # fmt: skip
    # A fixed hash seed: the snapshot of the initialized interpreter then does not depend
    # on a random one.
    env = dict(os.environ, PYTHONHASHSEED="0")
    started = time.monotonic()
    if subprocess.run(command, env=env).returncode != 0:
        partial.unlink(missing_ok=True)
        sys.exit(f"build of {args.game_dir} failed")
    partial.replace(out)
    size = out.stat().st_size / 1e6
    print(f"{out}: {size:.1f} MB in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
