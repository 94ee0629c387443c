"""German (DE) WLAN rules as the profile validator applies them.

Sources: BNetzA Vfg. 10/2013 (2.4 GHz), Vfg. 7/2010 and ETSI EN 301 893
(5 GHz). 2.4 GHz: channels 1-13, 100 mW (20 dBm) EIRP. 5 GHz: channels
36-64 and 100-140; 36-48 200 mW (23 dBm) EIRP; 52-64 indoor only, 200 mW
with TPC and DFS; 100-140 DFS, 1 W (30 dBm) with TPC. Channel 144 and the
5.8 GHz channels are not available in DE. A bonded channel (40/80/160 MHz) is
allowed only when every 20 MHz channel in its block is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Band = Literal["2g", "5g"]

COUNTRIES = frozenset({"DE"})
"""Countries whose radio rules these checks know; a mast set to another is refused."""

BAND_NAMES: dict[str, str] = {"2g": "2.4 GHz", "5g": "5 GHz"}
WIDTHS: dict[str, tuple[int, ...]] = {"2g": (20, 40), "5g": (20, 40, 80, 160)}

_CH_2G = tuple(range(1, 14))
_CH_5G_LOW = (36, 40, 44, 48)
_CH_5G_MID = (52, 56, 60, 64)
_CH_5G_HIGH = (100, 104, 108, 112, 116, 120, 124, 128, 132, 136, 140)
_ALL_5G = _CH_5G_LOW + _CH_5G_MID + _CH_5G_HIGH + (144,)

INDOOR_ONLY = frozenset(_CH_5G_MID)
DFS = frozenset(_CH_5G_MID + _CH_5G_HIGH)


@dataclass(frozen=True)
class RadioCheck:
    """Outcome of :func:`check_radio`: a list of human-readable faults (empty = ok)."""

    faults: tuple[tuple[str, str], ...]
    dfs: bool
    eirp_limit_dbm: float | None


def frequency_mhz(band: str, channel: int) -> int:
    if band == "2g":
        return 2407 + 5 * channel
    return 5000 + 5 * channel


def bonded_block(band: str, channel: int, width: int) -> tuple[int, ...] | None:
    """The 20 MHz channels a ``width`` MHz channel at primary ``channel`` occupies.

    ``None`` when the channel cannot carry that width at all.
    """
    if band == "2g":
        if width == 20:
            return (channel,)
        # HT40: the secondary channel is 4 above (HT40+) or 4 below (HT40-);
        # either is acceptable when it stays inside 1-13.
        if channel + 4 <= 13:
            return (channel, channel + 4)
        if channel - 4 >= 1:
            return (channel - 4, channel)
        return None
    if channel not in _ALL_5G:
        return None
    span = width // 20
    if span == 1:
        return (channel,)
    # 5 GHz blocks are aligned on the 20 MHz channel grid starting at 36 / 100.
    origin = 36 if channel < 100 else 100
    index = (channel - origin) // 4
    start = origin + (index - index % span) * 4
    return tuple(start + 4 * i for i in range(span))


def _allowed_20(band: str, channel: int, indoor: bool) -> str | None:
    """Why a single 20 MHz channel is not allowed (``None`` when it is)."""
    if band == "2g":
        if channel not in _CH_2G:
            return f"channel {channel} is not allowed on 2.4 GHz in DE (1-13)"
        return None
    if channel in _CH_5G_LOW or channel in _CH_5G_HIGH:
        return None
    if channel in _CH_5G_MID:
        return None if indoor else f"channel {channel} is indoor-only in DE (52-64)"
    return f"channel {channel} is not allowed on 5 GHz in DE (36-64, 100-140)"


def eirp_limit_dbm(band: str, block: tuple[int, ...]) -> float:
    """The EIRP limit of a channel block: the strictest of its channels."""
    if band == "2g":
        return 20.0
    return min(30.0 if ch >= 100 else 23.0 for ch in block)


def check_radio(
    band: str, channel: int, width: int, tx_power_dbm: float, antenna_gain_dbi: float, indoor: bool
) -> RadioCheck:
    """Check one radio against the DE rules.

    Returns faults as ``(field, message)`` pairs so the profile validator can
    point each at the right key.
    """
    faults: list[tuple[str, str]] = []
    if width not in WIDTHS[band]:
        allowed = ", ".join(str(w) for w in WIDTHS[band])
        faults.append(("width", f"{width} MHz is not a {BAND_NAMES[band]} width ({allowed})"))
        return RadioCheck(tuple(faults), False, None)
    why = _allowed_20(band, channel, indoor)
    if why:
        faults.append(("channel", why))
        return RadioCheck(tuple(faults), False, None)
    block = bonded_block(band, channel, width)
    if block is None:
        faults.append(("width", f"channel {channel} cannot carry {width} MHz in DE"))
        return RadioCheck(tuple(faults), False, None)
    for ch in block:
        why = _allowed_20(band, ch, indoor)
        if why:
            first, last = block[0], block[-1]
            faults.append(
                ("width", f"{width} MHz at channel {channel} spans {first}-{last}: {why}")
            )
            return RadioCheck(tuple(faults), False, None)
    limit = eirp_limit_dbm(band, block)
    eirp = tx_power_dbm + antenna_gain_dbi
    if eirp > limit + 1e-9:
        faults.append(
            (
                "tx_power_dbm",
                f"{tx_power_dbm:g} dBm + {antenna_gain_dbi:g} dBi antenna gain = {eirp:g} dBm EIRP "
                f"exceeds the DE limit of {limit:g} dBm for channel {channel}",
            )
        )
    return RadioCheck(tuple(faults), any(ch in DFS for ch in block), limit)
