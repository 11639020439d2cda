"""The files of `bioadapt demo`: a small SE-adLIF network trained on burst sequence detection."""

from pathlib import Path

FOLDER = Path(__file__).parent
CONFIG = FOLDER / "bsd.toml"
