"""Where a destination is, in the coarse regions our warehouses and rate cards use."""

# Chinese provinces (ISO 3166-2:CN subdivision codes) by macro region.
_PROVINCE_REGION: dict[str, str] = {
    **dict.fromkeys(["SH", "JS", "ZJ", "AH", "FJ", "JX", "SD", "TW"], "east"),
    **dict.fromkeys(["BJ", "TJ", "HE", "SX", "NM", "LN", "JL", "HL"], "north"),
    **dict.fromkeys(["HA", "HB", "HN", "GD", "GX", "HI", "HK", "MO"], "south"),
    **dict.fromkeys(["CQ", "SC", "GZ", "YN", "XZ", "SN", "GS", "QH", "NX", "XJ"], "west"),
}

# How far apart two regions are, in rate-card zones (1 = same region).
_NEIGHBOURS: dict[str, set[str]] = {
    "east": {"north", "south"},
    "north": {"east", "west"},
    "south": {"east", "west"},
    "west": {"north", "south"},
}


def region_of(country: str, province: str) -> str:
    if country != "CN":
        return "international"
    return _PROVINCE_REGION.get(province.upper(), "east")


def zone_between(origin_region: str, destination_region: str) -> int:
    if destination_region == "international":
        return 4
    if origin_region == destination_region:
        return 1
    if destination_region in _NEIGHBOURS.get(origin_region, set()):
        return 2
    return 3
