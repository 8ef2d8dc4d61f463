"""The core layer: what every other layer may import (DESIGN §4)."""
