#!/usr/bin/env python3
"""Training corpus for the event-report model: seeded event sets in the exact event schema
(schema/event.schema.json), their report/answer requests (contract.py, the twin of
src/fusion/report_prompt.cpp) and targets written by a template grammar that states only facts
present in the input (checked with factcheck.py).

  python3 training/corpus.py train   --seed 1    --n 120000 --out data/train.jsonl
  python3 training/corpus.py heldout --seed 9001 --n 1000   --out data/heldout.jsonl
  python3 training/corpus.py testdata                        # rewrites training/testdata/*

train lines:   {"prompt": ..., "target": ..., "kind": ...}   (target ends with <|end|>)
heldout lines: {"events": [Event JSON...], "site": ..., "tz": "UTC", "prompt": ...,
                "request": {...}, "reference": ...}            + vocab.json next to it
Standard library only; all times are generated and rendered in UTC (contract.use_utc()).
"""

import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import contract  # noqa: E402
import factcheck  # noqa: E402
from factcheck import plural  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Vocabularies. Zone and line names are built from bases x suffixes x spelling styles, so the
# held-out set (another seed) holds many names never seen in training. About NOVEL_SHARE of all
# zone and line names are novel instead (novel_name): pronounceable random words, extra place
# nouns and single lower-case words, which the model can only get right by copying them from
# the facts character for character, as it must for the names users give their zones.

ZONE_BASES = [
    "Dock", "Loading Dock", "Loading Bay", "Parking Lot", "Parking Deck", "Car Park", "Lobby",
    "Reception", "Warehouse Aisle", "Aisle", "Yard", "Container Yard", "Storage Area",
    "Cold Storage", "Server Room", "Control Room", "Office Corridor", "Corridor", "Stairwell",
    "Roof Access", "Fuel Station", "Platform", "Rail Siding", "Shipping Office", "Packing Station",
    "Workshop", "Break Room", "Bike Shed", "Hangar", "Substation", "Pump House", "Generator Room",
    "Vault", "Lab", "Clean Room", "Canteen", "Mail Room", "Garage", "Tool Crib", "Scrap Yard",
    "Waste Area", "Tank Farm", "Boiler Room", "Pier", "Quay", "Berth", "Checkpoint",
    "Guard House", "Visitor Area", "Inbound Lane", "Outbound Lane", "Mezzanine", "Rooftop",
    "Basement", "Atrium", "Cargo Hold", "Fire Lane", "Battery Room", "Chemical Store",
    "Staging Area", "Receiving", "Cross Dock", "Trailer Yard", "Dock Leveler", "Wash Bay",
]
LINE_BASES = [
    "Gate", "Main Gate", "Side Gate", "Entrance", "Main Entrance", "Back Entrance", "Fence",
    "Perimeter Fence", "Turnstile", "Door", "Front Door", "Exit", "Emergency Exit", "Barrier",
    "Crosswalk", "Driveway", "Tripwire", "Dock Door", "Shutter", "Threshold", "Walkway",
    "Access Road", "Boom Gate", "Roller Door", "Fire Door", "Ramp", "Footpath", "Bridge",
]
# Ordinary place nouns that are not bases: novel names to copy (alone or with the suffixes).
# They are listed in vocabulary(), so naming one that is not in the input is a hallucination.
EXTRA_ZONE_NOUNS = [
    "Orchard", "Courtyard", "Greenhouse", "Terrace", "Meadow", "Quarry", "Silo", "Kiosk", "Patio",
    "Arcade", "Garden", "Pavilion", "Cellar", "Attic", "Barn", "Stable", "Paddock", "Pasture",
    "Vineyard", "Nursery", "Library", "Chapel", "Gallery", "Foyer", "Veranda", "Porch",
    "Balcony", "Cloister", "Quad", "Playground", "Pitch", "Arena", "Stadium", "Gym", "Pool",
    "Pond", "Marina", "Jetty", "Wharf", "Boathouse", "Promenade", "Esplanade", "Square",
    "Market", "Bazaar", "Food Court", "Cafe", "Bakery", "Kitchen", "Pantry", "Laundry",
    "Dormitory", "Classroom", "Auditorium", "Studio", "Theater", "Cinema", "Museum", "Archive",
    "Annex", "Tower", "Bunker", "Shelter", "Hut", "Cabin", "Conservatory", "Allotment",
    "Farmyard", "Stockyard", "Sawmill", "Forge", "Foundry", "Kiln", "Refinery", "Gazebo",
    "Fountain", "Rotunda", "Gatehouse", "Lodge", "Chalet", "Showroom", "Stockroom", "Storeroom",
    "Cloakroom", "Locker Room", "Washroom", "Infirmary", "Clinic", "Pharmacy", "Observatory",
    "Aviary", "Kennel", "Dairy", "Granary", "Hayloft", "Loft", "Crypt", "Belfry", "Grove",
    "Thicket", "Heath", "Marsh", "Dune", "Beach", "Cove", "Lagoon", "Reservoir", "Helipad",
    "Runway", "Apron", "Taxiway", "Control Tower", "Parade Ground", "Bandstand", "Amphitheater",
    "Sports Hall", "Tennis Court", "Skate Park", "Grandstand", "Concourse", "Mall", "Ridge",
    "Hillside", "Riverbank", "Boatyard", "Dockyard", "Shipyard", "Coal Bunker", "Hopper",
]
EXTRA_LINE_NOUNS = [
    "Archway", "Gateway", "Stile", "Portal", "Hatch", "Doorway", "Passage", "Underpass",
    "Overpass", "Tunnel", "Causeway", "Boardwalk", "Gangway", "Stairway", "Escalator",
    "Footbridge", "Slipway", "Kerb", "Sidewalk", "Pavement", "Towpath", "Bridleway", "Sideline",
    "Baseline", "Centerline", "Finish Line", "Start Line", "Stop Line", "Cordon", "Rope Line",
    "Tollbooth", "Toll Gate", "Ticket Barrier", "Revolving Door", "Sliding Door", "Railing",
    "Hedge", "Wall", "Ditch", "Drawbridge", "Culvert", "Wicket", "Safety Line", "Queue Line",
]
NUMBER_SUFFIXES = [str(i) for i in range(1, 13)]
LETTER_SUFFIXES = list("ABCDEF")
COMPASS = ["North", "South", "East", "West"]
LEVELS = ["Upper", "Lower"]

# Syllables of the random words (tarvek, molu, kelbra, ...).
ONSETS = (["b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"] * 4
          + ["j", "w", "br", "dr", "gr", "kr", "tr", "st", "sk", "th", "sh", "ch"])
VOWELS = ["a", "e", "i", "o", "u"] * 4 + ["ai", "ei", "ou", "au"]
CODAS = ["n", "r", "l", "k", "s", "m", "t", "v"] * 3 + ["x", "nd", "rk", "lt", "st", "sh"]
NOVEL_PREFIXES = {"zone": ["Zone", "Area", "Sector", "Block", "Section", "Field"],
                  "line": ["Line", "Lane", "Path", "Gate"]}

NOVEL_SHARE = 0.35  # of all zone and line names
# The demo site's names (configs/demo.yaml): never generated, in any spelling or inside another
# name, so the demo stays an honest held-out check of copying.
EXCLUDED_NAMES = ("lawn", "plaza", "midline")

CLASSES = [
    "person", "car", "truck", "van", "bus", "motorcycle", "bicycle", "forklift", "dog", "cat",
    "bag", "backpack", "suitcase", "handbag", "box", "parcel", "pallet", "cart", "trolley",
    "pallet jack", "scooter", "drone",
]
CLASSES_BY_TYPE = {
    "intrusion": (["person"] * 12 + ["car", "truck", "van", "forklift", "bicycle", "dog", "cat",
                                     "motorcycle", "scooter", "drone"]),
    "loitering": ["person"] * 14 + ["car", "truck", "van", "dog", "bicycle", "motorcycle"],
    "crowding": ["person"] * 12 + [""] * 4 + ["car", "truck", "bicycle", "forklift"],
    "line_crossing": (["person"] * 8 + ["car", "truck", "van", "bus", "forklift", "bicycle",
                                        "motorcycle", "pallet jack", "scooter", "dog"]),
    "object_left": ["bag", "backpack", "suitcase", "handbag", "box", "parcel", "pallet", "cart",
                    "trolley", "bicycle", "pallet jack"],
}

SITE_PLACES = [
    "Northgate", "Riverside", "Harbor", "Westfield", "Oakridge", "Pinecrest", "Lakeside",
    "Eastport", "Summit", "Granite", "Bayview", "Redhill", "Millbrook", "Stonebridge", "Fairview",
    "Cedar", "Maple", "Kingsway", "Southbank", "Ironbridge", "Elm Street", "Canal Road",
    "Airport", "Old Mill", "Harbour Point", "Brookfield", "Highland", "Sandpoint",
]
SITE_KINDS = [
    "Logistics Hub", "Distribution Center", "Plant", "Warehouse", "Terminal", "Depot", "Campus",
    "Factory", "Port", "Data Center", "Works", "Freight Terminal", "Cold Chain Facility",
    "Assembly Plant", "Recycling Center", "Bus Depot", "Rail Yard", "Industrial Park",
]
CAMERAS = ["cam0", "cam1", "cam2", "cam3", "gate-cam", "dock-cam-2", "north", "ptz1", ""]


def styled(name, style):
    """One spelling of a zone name: as written, lower case, snake_case or kebab-case."""
    if style == 0:
        return name
    low = name.lower()
    if style == 1:
        return low
    if style == 2:
        return low.replace(" ", "_")
    return low.replace(" ", "-")


def all_names(bases):
    """Every name the generator can produce from `bases` (title style), without spellings."""
    names = []
    for b in bases:
        names.append(b)
        names += [f"{b} {s}" for s in NUMBER_SUFFIXES + LETTER_SUFFIXES]
        names += [f"{c} {b}" for c in COMPASS + LEVELS]
        names += [f"{b} {c}" for c in COMPASS]
    return names


def vocabulary():
    """The zone/class vocabularies `vigil eval-reports` uses to spot hallucinated names: every
    base- and noun-derived name in every spelling. Random words (novel_word) cannot be listed,
    so a report that invents one is not caught as a zone hallucination."""
    zones = set()
    for bases in (ZONE_BASES, EXTRA_ZONE_NOUNS, LINE_BASES, EXTRA_LINE_NOUNS):
        for name in all_names(bases):
            for style in range(4):
                zones.add(styled(name, style))
    return {"zones": sorted(zones), "classes": sorted(CLASSES)}


def is_excluded(name):
    """True when `name` holds a demo name (lawn, plaza, midline) in any case or spelling."""
    squeezed = "".join(c for c in name.lower() if c.isalnum())
    return any(x in squeezed for x in EXCLUDED_NAMES)


def affixed(rng, b):
    """`b` alone or with a number, letter, compass or level word."""
    r = rng.random()
    if r < 0.45:
        return f"{b} {rng.choice(NUMBER_SUFFIXES)}"
    if r < 0.6:
        return f"{b} {rng.choice(LETTER_SUFFIXES)}"
    if r < 0.72:
        return f"{rng.choice(COMPASS + LEVELS)} {b}"
    if r < 0.8:
        return f"{b} {rng.choice(COMPASS)}"
    return b


def random_style(rng):
    return rng.choices([0, 1, 2, 3], weights=[60, 12, 22, 6])[0]


def make_name(rng, bases):
    """A zone (bases=ZONE_BASES) or line (bases=LINE_BASES) name: NOVEL_SHARE novel ones."""
    if rng.random() < NOVEL_SHARE:
        return novel_name(rng, "line" if bases is LINE_BASES else "zone")
    return styled(affixed(rng, rng.choice(bases)), random_style(rng))


def novel_word(rng):
    """A pronounceable random word of 1-3 syllables, lower case (tarvek, molu, kelbra)."""
    n = rng.choices([1, 2, 3], weights=[10, 70, 20])[0]
    word = ""
    for i in range(n):
        last = i == n - 1
        if i == 0 and rng.random() < 0.15:
            onset = ""
        else:
            onset = rng.choice(ONSETS)
        coda = rng.choice(CODAS) if rng.random() < (0.9 if n == 1 else 0.45 if last else 0.25) else ""
        word += onset + rng.choice(VOWELS) + coda
    return word


def novel_name(rng, kind):
    """A name the model cannot have memorised: a random word alone, paired, with a place noun,
    a prefix ("zone kelbra 3") or the usual suffixes; an extra place noun (with suffixes); or
    one short lower-case word ("silo", "tarvek"). Never a demo name, never a piece of the
    report templates (the checker masks the zone in the report, so a zone inside a template
    word such as "tered" in "entered" would hide that word)."""
    nouns = EXTRA_LINE_NOUNS if kind == "line" else EXTRA_ZONE_NOUNS
    bases = LINE_BASES if kind == "line" else ZONE_BASES
    while True:
        r = rng.random()
        if r < 0.2:  # one short word in lower case, like the demo's "lawn"
            if rng.random() < 0.5:
                name = rng.choice([n for n in nouns if " " not in n]).lower()
            else:
                name = novel_word(rng)
                while not 4 <= len(name) <= 8:
                    name = novel_word(rng)
        elif r < 0.55:  # an extra place noun with the usual suffixes and spellings
            name = styled(affixed(rng, rng.choice(nouns)), random_style(rng))
        else:  # random words
            w = novel_word(rng).capitalize()
            while len(w) < 3:
                w = novel_word(rng).capitalize()
            s = rng.random()
            if s < 0.35:
                name = w
            elif s < 0.5:
                name = f"{w} {novel_word(rng).capitalize()}"
            elif s < 0.8:
                name = f"{w} {rng.choice(nouns + bases)}"
            else:
                name = f"{rng.choice(NOVEL_PREFIXES[kind])} {w}"
            if rng.random() < 0.45:
                name = affixed(rng, name)
            name = styled(name, random_style(rng))
        if not is_excluded(name) and not in_template_text(name):
            return name


# Site names: like zones, a share is novel, so the model copies any site name it is given
# instead of expecting "<Place> <Kind>" (a demo site named "Campus demo" derailed the first
# model). The demo's own site name is never generated.
SITE_NOVEL_SHARE = 0.45
SITE_EXTRA_KINDS = [
    "Site", "Facility", "Complex", "Station", "Center", "Estate", "Grounds", "Store", "Mall",
    "School", "Hospital", "Farm", "Mine", "Office", "HQ", "Yard", "Park", "Base", "Mill",
    "Refinery", "Quarry", "Marina", "Airfield", "Shipyard", "Brewery", "Bakery", "Dairy",
    "Sawmill", "Foundry", "Hub", "Annex", "Depot", "Lab", "Studio", "Garage", "Arena",
]
EXCLUDED_SITE_WORDS = ("demo",)


def make_site(rng):
    if rng.random() >= SITE_NOVEL_SHARE:
        site = f"{rng.choice(SITE_PLACES)} {rng.choice(SITE_KINDS)}"
        if rng.random() < 0.2:
            site += f" {rng.randint(2, 9)}"
        return site
    kinds = SITE_KINDS + SITE_EXTRA_KINDS
    while True:
        w = novel_word(rng)
        r = rng.random()
        if r < 0.3:  # "Tarvek Plant"
            site = f"{w.capitalize()} {rng.choice(kinds)}"
        elif r < 0.45:  # "Riverside molu"
            site = f"{rng.choice(SITE_PLACES)} {w}"
        elif r < 0.6:  # "Campus kelbra" (the demo's shape: a kind and a lower-case word)
            site = f"{rng.choice(kinds)} {w}"
        elif r < 0.75:  # "Tarvek Molu"
            site = f"{w.capitalize()} {novel_word(rng).capitalize()}"
        elif r < 0.85:  # "tarvek"
            site = w
        elif r < 0.93:  # "TARV Refinery"
            site = f"{w.upper()[:4]} {rng.choice(SITE_EXTRA_KINDS)}"
        else:  # "The Kelbra Works"
            site = f"The {w.capitalize()} {rng.choice(kinds)}"
        if rng.random() < 0.15:
            site += f" {rng.randint(2, 9)}"
        words = site.lower().split()
        if any(x in words for x in EXCLUDED_SITE_WORDS) or is_excluded(site):
            continue
        if in_template_text(site.lower()):
            continue
        return site


def slug(text):
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


def make_rule_name(rng, etype, zone):
    z = slug(zone) or "scene"
    short = {"intrusion": "intrusion", "loitering": "loiter", "crowding": "crowd",
             "line_crossing": "count", "object_left": "left_object"}[etype]
    return rng.choice([f"{z}_{short}", f"{short}_{z}", f"{z}-{short}", f"no_entry_{z}"
                       if etype == "intrusion" else f"{short}-{z}", short, f"{short}_{rng.randint(1, 9)}"])


# ---------------------------------------------------------------------------------------------
# Events in the vision::Event schema.

EPOCH_MIN = 1_672_531_200  # 2023-01-01
EPOCH_MAX = 1_798_761_600  # 2027-01-01


class Scene:
    """One camera's context: site, camera, its zones, lines and rules."""

    def __init__(self, rng):
        self.rng = rng
        self.site = make_site(rng)
        self.camera = rng.choice(CAMERAS)
        self.sequence = rng.randint(0, 5000)
        self.stream_t = rng.uniform(0, 50_000)
        self.unix = rng.uniform(EPOCH_MIN, EPOCH_MAX)
        self.next_track = rng.randint(1, 3000)
        self.line_counts = {}

    def track(self):
        self.next_track += self.rng.randint(1, 7)
        return self.next_track

    def event(self, etype, zone, rule, dt, cls=None, direction=None, ongoing=None):
        """An event starting `dt` seconds after the previous one."""
        rng = self.rng
        assert etype in contract.EVENT_TYPES
        self.stream_t += dt
        self.unix += dt
        self.sequence += 1
        if cls is None:
            cls = rng.choice(CLASSES_BY_TYPE[etype])
        track_ids = [self.track()]
        count = 0
        end_after = None
        direction_out = ""
        if etype == "intrusion":
            end_after = rng.choice([rng.uniform(0.5, 30), rng.uniform(5, 600)])
        elif etype == "loitering":
            end_after = rng.uniform(20, 1800)
        elif etype == "crowding":
            count = rng.choice([rng.randint(2, 9), rng.randint(3, 25), rng.randint(10, 80)])
            track_ids = [self.track() for _ in range(count + rng.randint(0, 4))]
            end_after = rng.uniform(5, 900)
        elif etype == "object_left":
            end_after = rng.uniform(30, 3600)
        elif etype == "line_crossing":
            direction_out = direction or rng.choice(contract.DIRECTIONS)
            key = (rule, direction_out)
            if key not in self.line_counts:
                self.line_counts[key] = rng.choice([0, rng.randint(0, 40), rng.randint(0, 900)])
            self.line_counts[key] += 1
            count = self.line_counts[key]
            end_after = 0.0
        if etype != "line_crossing":
            if ongoing is None:
                ongoing = rng.random() < 0.35
            if ongoing:
                end_after = None
        start_s = round(self.stream_t, rng.choice([1, 2, 3]))
        end_s = None if end_after is None else round(start_s + end_after, rng.choice([1, 2, 3]))
        camera = self.camera
        x, y = rng.uniform(0, 1800), rng.uniform(0, 1000)
        event = {
            "id": f"{camera or 'cam'}-{self.sequence:06d}",
            "rule": rule,
            "type": etype,
            "zone": zone,
            "camera": camera,
            "track_ids": track_ids,
            "class": cls,
            "start_s": start_s,
            "end_s": end_s,
            "start_unix": round(self.unix, rng.choice([0, 2, 3, 6])),
            "frame_index": int(start_s * rng.choice([10, 15, 25, 30])) + rng.randint(0, 40),
            "confidence": round(rng.uniform(0.3, 0.99), 4),
            "bbox": [round(x, 1), round(y, 1), round(rng.uniform(8, 400), 1),
                     round(rng.uniform(8, 600), 1)],
            "snapshot": rng.choice(["", f"snaps/{camera or 'cam'}-{self.sequence:06d}.jpg"]),
            "direction": direction_out,
            "count": count,
        }
        # The schema is the single definition of the event: every generated event must match it.
        assert list(event.keys()) == contract.EVENT_KEYS, "event keys drifted from the schema"
        errors = contract.schema_errors(event, contract.EVENT_SCHEMA)
        assert not errors, errors
        return event


def polygon_type(rng):
    return rng.choices(["intrusion", "loitering", "crowding", "object_left"],
                       weights=[34, 26, 20, 20])[0]


def single_event(rng):
    scene = Scene(rng)
    etype = rng.choices(contract.EVENT_TYPES, weights=[24, 20, 18, 20, 18])[0]
    if etype == "line_crossing":
        zone = make_name(rng, LINE_BASES)
    elif etype == "object_left" and rng.random() < 0.2:
        zone = ""
    else:
        zone = make_name(rng, ZONE_BASES)
    rule = make_rule_name(rng, etype, zone)
    return scene.site, [scene.event(etype, zone, rule, 0)]


def burst(rng):
    """2-4 related events: same zone (and often the same rule), close in time."""
    scene = Scene(rng)
    n = rng.randint(2, 4)
    if rng.random() < 0.3:
        zone = make_name(rng, LINE_BASES)
        rule = make_rule_name(rng, "line_crossing", zone)
        return scene.site, [scene.event("line_crossing", zone, rule, rng.uniform(1, 90) if i else 0)
                            for i in range(n)]
    zone = make_name(rng, ZONE_BASES)
    rules = {}
    same_type = rng.random() < 0.5
    first = polygon_type(rng)
    events = []
    for i in range(n):
        etype = first if same_type else polygon_type(rng)
        if etype not in rules:
            rules[etype] = make_rule_name(rng, etype, zone)
        dt = rng.uniform(2, 240) if i else 0
        events.append(scene.event(etype, zone, rules[etype], dt))
    return scene.site, events


# ---------------------------------------------------------------------------------------------
# Report templates. Slots: {n} count digits, {c} class noun agreeing with {n}, {a}/{A} article +
# class (line crossings, whose count is a running count), {z} zone, {in_z} "in <zone>" or a
# whole-view phrase, {t} time, {dir} direction words, {from}/{to}, {has}/{was}/{is} agreement.

SINGLE = {
    "intrusion": [
        "Intrusion in {z} at {t}: {n} {c} entered.",
        "{n} {c} entered {z} at {t}.",
        "At {t}, {n} {c} entered {z}.",
        "Intrusion alert: {n} {c} entered {z} at {t}.",
        "{z}: intrusion at {t} by {n} {c}.",
        "Intrusion detected in {z} at {t} ({n} {c}).",
        "At {t} an intrusion was detected in {z}: {n} {c}.",
        "{t} - intrusion in {z}, {n} {c} entered.",
        "Alert: {n} {c} entered {z} at {t}.",
        "Restricted zone {z} entered at {t} by {n} {c}.",
        "{n} {c} entered the restricted zone {z} at {t}.",
        "Intrusion: {n} {c} in {z} since {t}.",
        "Unauthorized entry: {n} {c} entered {z} at {t}.",
        "{z} was entered by {n} {c} at {t}.",
        "Intrusion event at {t}. {n} {c} entered {z}.",
        "Zone {z}: {n} {c} entered at {t} (intrusion).",
        "Security alert at {t}: intrusion in {z} by {n} {c}.",
        "Detected {n} {c} entering {z} at {t}.",
        "Intruder in {z}: {n} {c} at {t}.",
        "At {t} {n} {c} entered zone {z}.",
        "Intrusion reported for {z}: {n} {c}, {t}.",
        "New intrusion at {t}: {n} {c} entered {z}.",
    ],
    "loitering": [
        "Loitering in {z}: {n} {c} since {t}.",
        "{n} {c} loitering in {z} since {t}.",
        "At {t}, {n} {c} started loitering in {z}.",
        "Loitering alert: {n} {c} in {z} from {t}.",
        "{z}: {n} {c} lingering since {t}.",
        "{n} {c} {has} been lingering in {z} since {t}.",
        "Loitering detected in {z} at {t} ({n} {c}).",
        "At {t} loitering was detected in {z}: {n} {c}.",
        "{t} - loitering in {z} by {n} {c}.",
        "Alert: {n} {c} loitering in {z}, started {t}.",
        "{n} {c} lingered in {z} from {t}.",
        "Loitering event at {t}. {n} {c} in {z}.",
        "Zone {z}: loitering by {n} {c} since {t}.",
        "Possible loitering: {n} {c} in {z} since {t}.",
        "{n} {c} seen lingering in {z} at {t}.",
        "Loitering reported for {z}: {n} {c}, from {t}.",
        "Security alert at {t}: {n} {c} loitering in {z}.",
        "Loiterer in {z}: {n} {c} since {t}.",
        "In {z}, {n} {c} started lingering at {t}.",
        "{z} has {n} {c} loitering since {t}.",
        "New loitering event at {t}: {n} {c} in {z}.",
    ],
    "crowding": [
        "Crowding in {z} at {t}: {n} {c}.",
        "{n} {c} gathered in {z} at {t}.",
        "At {t}, a crowd of {n} {c} formed in {z}.",
        "Crowd alert: {n} {c} in {z} since {t}.",
        "{z}: crowding at {t}, {n} {c}.",
        "Crowding detected in {z} at {t} ({n} {c}).",
        "At {t} crowding was detected in {z}: {n} {c}.",
        "{t} - crowd of {n} {c} in {z}.",
        "Alert: {n} {c} gathered in {z} at {t}.",
        "A crowd of {n} {c} in {z} since {t}.",
        "Crowding event at {t}. Peak of {n} {c} in {z}.",
        "Zone {z}: {n} {c} gathering since {t}.",
        "Large crowd in {z}: {n} {c} at {t}.",
        "{n} {c} crowded into {z} at {t}.",
        "Crowding reported for {z}: {n} {c}, {t}.",
        "Security alert at {t}: crowd of {n} {c} in {z}.",
        "Gathering in {z} at {t}: {n} {c}.",
        "In {z}, {n} {c} gathered at {t}.",
        "Crowd detected at {t} in {z}, peak {n} {c}.",
        "New crowding event at {t}: {n} {c} in {z}.",
        "{z} is crowded: {n} {c} since {t}.",
    ],
    "line_crossing": [
        "Line crossing at {z}: {a} crossed {dir} at {t} (count {n}).",
        "{A} crossed {z} {dir} at {t}; crossing number {n}.",
        "At {t}, {a} crossed {z} going {dir}. Count: {n}.",
        "{z}: {a} crossed {dir} at {t}, total {n}.",
        "Crossing detected at {z} at {t}: {a}, {dir} (count {n}).",
        "{t} - {a} crossed {z} {dir}. Running count {n}.",
        "Line {z} crossed {dir} by {a} at {t} (total {n}).",
        "Alert: {a} crossed {z} at {t}, direction {dir}, count {n}.",
        "Crossing #{n} at {z}: {a} going {dir} at {t}.",
        "{A} crossed {z} {dir} at {t} (crossing {n}).",
        "Line crossing event at {t}. {A} crossed {z} {dir}; count now {n}.",
        "At {t} {a} was seen crossing {z} {dir}. Total crossings: {n}.",
        "{z} crossing at {t}: {a}, {dir}, count {n}.",
        "Crossing count at {z} is now {n}: {a} crossed {dir} at {t}.",
        "{A} crossed {z} from {from} to {to} at {t} (count {n}).",
        "Direction {dir}: {a} crossed {z} at {t}. Count {n}.",
        "New crossing at {z} at {t}: {a} moving {dir}, total {n}.",
        "Security alert at {t}: {a} crossed {z} {dir} (count {n}).",
        "Counted crossing {n} at {z}: {a}, {dir}, {t}.",
        "{z}: line crossed by {a} at {t} heading {dir}; count {n}.",
        "Line crossing reported for {z}: {a} at {t}, {dir}, count {n}.",
    ],
    "object_left": [
        "Left object {in_z} at {t}: {n} {c}.",
        "{n} {c} left unattended {in_z} at {t}.",
        "At {t}, {n} {c} {was} left unattended {in_z}.",
        "Unattended object alert: {n} {c} {in_z} since {t}.",
        "Abandoned item {in_z}: {n} {c} since {t}.",
        "Left object detected {in_z} at {t} ({n} {c}).",
        "At {t} a left object was detected {in_z}: {n} {c}.",
        "{t} - {n} {c} unattended {in_z}.",
        "Alert: {n} {c} abandoned {in_z} at {t}.",
        "{n} {c} {has} been unattended {in_z} since {t}.",
        "Left object event at {t}. {n} {c} {in_z}.",
        "Possible abandoned item: {n} {c} {in_z}, {t}.",
        "Unattended items {in_z}: {n} {c} since {t}.",
        "Security alert at {t}: {n} {c} left unattended {in_z}.",
        "{n} {c} appeared {in_z} at {t} and {was} left unattended.",
        "Left object reported {in_z}: {n} {c}, {t}.",
        "Found {n} unattended {c} {in_z} at {t}.",
        "{n} {c} remained unattended {in_z} from {t}.",
        "New left object at {t}: {n} {c} {in_z}.",
        "Object left {in_z} at {t}: {n} {c}.",
        "{n} {c} sitting unattended {in_z} since {t}.",
    ],
}

DURATION_TAILS = {
    "intrusion": [" It stayed {d} s.", " The intrusion lasted {d} s.", " Time inside: {d} s.",
                  " Ended after {d} s.", " Duration {d} seconds."],
    "loitering": [" Dwell time {d} s.", " Lasted {d} seconds.", " Ended after {d} s.",
                  " Total dwell: {d} s.", " Duration {d} s."],
    "crowding": [" The crowd lasted {d} s.", " Duration {d} s.", " It dispersed after {d} s.",
                 " Lasted {d} seconds.", " Ended after {d} s."],
    "object_left": [" Removed after {d} s.", " It stayed for {d} s.", " Duration {d} s.",
                    " Picked up after {d} seconds.", " Ended after {d} s."],
}
ONGOING_TAILS = [" Still ongoing.", " The event is still active.", " Ongoing.", " Not yet ended.",
                 " Still in progress.", ""]
OUTROS = ["", "", "", " Please check the footage.", " Review recommended.",
          " Operator attention needed.", " Please verify."]

BURST_INTROS = [
    "Several events in {z}:", "Activity burst at {z}:", "Multiple alerts in {z}:",
    "{z} - a series of events:", "Burst of events at {z} starting {t0}:",
    "Repeated activity in zone {z}:", "Events in {z} since {t0}:", "{z} reports:",
    "Alert series for {z}:", "Related events at {z}:",
]
BURST_OUTROS = ["All in {z}.", "All events in zone {z}.", "Location: {z}.", "Zone: {z}."]
BURST_LINE_INTROS = [
    "Several crossings of {z}:", "Crossings at {z}:", "Burst of crossings at {z} from {t0}:",
    "{z} - repeated crossings:", "Multiple line crossings at {z}:", "Traffic over {z}:",
]

CLAUSES = {
    "intrusion": ["{t} {n} {c} entered", "intrusion at {t} by {n} {c}", "{n} {c} entered at {t}",
                  "at {t} {n} {c} entered", "{n} {c} intrusion at {t}"],
    "loitering": ["{n} {c} loitering since {t}", "at {t} {n} {c} lingering",
                  "loitering from {t}: {n} {c}", "{t} {n} {c} lingered", "{n} {c} loitering at {t}"],
    "crowding": ["crowd of {n} {c} at {t}", "{n} {c} gathered at {t}", "{t} crowding, {n} {c}",
                 "at {t} a crowd of {n} {c}", "crowding at {t} with {n} {c}"],
    "line_crossing": ["{a} crossed {dir} at {t} (count {n})", "{t} {a} crossed {dir}, count {n}",
                      "at {t} {a} crossed going {dir}, total {n}",
                      "crossing {n}: {a}, {dir}, {t}", "{a} crossed at {t} {dir} (#{n})"],
    "object_left": ["{n} {c} left unattended at {t}", "left object at {t}: {n} {c}",
                    "{t} {n} {c} unattended", "at {t} {n} {c} abandoned",
                    "{n} {c} unattended since {t}"],
}
CLAUSE_DURATION = [" for {d} s", " ({d} s)", ", lasted {d} s", ", {d} s"]
CLAUSE_ONGOING = [" (ongoing)", ", still ongoing", ", ongoing", ""]


def article(word):
    return ("an " if word[0] in "aeiou" else "a ") + word


def direction_words(direction):
    a, b = direction.split("_to_")
    return f"{a} to {b}", a, b


def slots(rng, facts, short_time=None):
    n = facts["count"]
    cls = facts["class"]
    if short_time is None:
        short_time = rng.random() < 0.25
    zone = facts["zone"]
    if zone:
        in_z = rng.choice([f"in {zone}", f"in zone {zone}", f"at {zone}"])
    else:
        in_z = rng.choice(["in the camera view", "in view of the camera", "in the monitored scene"])
    s = {
        "n": str(n),
        "c": cls if n == 1 else plural(cls),
        "a": article(cls),
        "A": article(cls).capitalize(),
        "z": zone,
        "in_z": in_z,
        "t": facts["time"][:5] if short_time else facts["time"],
        "has": "has" if n == 1 else "have",
        "was": "was" if n == 1 else "were",
        "is": "is" if n == 1 else "are",
        "d": "" if facts["duration_s"] is None else str(facts["duration_s"]),
        "dir": "", "from": "", "to": "",
    }
    if facts["type"] == "line_crossing" and facts["direction"]:
        s["dir"], s["from"], s["to"] = direction_words(facts["direction"])
    return s


def fill(template, s):
    return template.format(**s)


def single_report(rng, request):
    facts = request["events"][0]
    etype = facts["type"]
    s = slots(rng, facts)
    text = fill(rng.choice(SINGLE[etype]), s)
    if etype != "line_crossing":
        if facts["duration_s"] is not None:
            if rng.random() < 0.8:
                text += fill(rng.choice(DURATION_TAILS[etype]), s)
        else:
            text += rng.choice(ONGOING_TAILS)
    if request["site"] and rng.random() < 0.12:
        text = rng.choice(["{site}: ", "[{site}] ", "Site {site}. "]).format(site=request["site"]) + text
    if rng.random() < 0.08:
        text += f" Rule: {facts['rule']}."
    return text + rng.choice(OUTROS)


def clause(rng, facts, short_time):
    s = slots(rng, facts, short_time)
    text = fill(rng.choice(CLAUSES[facts["type"]]), s)
    if facts["type"] != "line_crossing":
        if facts["duration_s"] is not None:
            if rng.random() < 0.6:
                text += fill(rng.choice(CLAUSE_DURATION), s)
        else:
            text += rng.choice(CLAUSE_ONGOING)
    return text


def burst_report(rng, request):
    events = request["events"]
    zone = events[0]["zone"]
    short_time = rng.random() < 0.25
    t0 = events[0]["time"][:5] if short_time else events[0]["time"]
    clauses = [clause(rng, f, short_time) for f in events]
    lines = all(f["type"] == "line_crossing" for f in events)
    style = rng.random()
    if style < 0.2:
        body = "\n".join("- " + c for c in clauses)
        sep = "\n"
    elif style < 0.6:
        body = "; ".join(clauses) + "."
        sep = " "
    else:
        body = " ".join(c[0].upper() + c[1:] + "." for c in clauses)
        sep = " "
    if rng.random() < 0.2 and not lines:
        body = " ".join(c[0].upper() + c[1:] + "." for c in clauses)
        text = body + " " + rng.choice(BURST_OUTROS).format(z=zone)
    else:
        intro = rng.choice(BURST_LINE_INTROS if lines else BURST_INTROS).format(z=zone, t0=t0)
        text = intro + sep + body
    if rng.random() < 0.1:
        text = f"{request['site']}: " + text
    return text + rng.choice(OUTROS)


def report_target(rng, request):
    if len(request["events"]) == 1:
        return single_report(rng, request)
    return burst_report(rng, request)


# ---------------------------------------------------------------------------------------------
# Operator answers (count / what_happened / last_event).

WINDOWS = [5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 360, 480, 720, 1440]
TYPE_NOUNS = {
    "": ("event", "events"),
    "intrusion": ("intrusion", "intrusions"),
    "loitering": ("loitering event", "loitering events"),
    "crowding": ("crowding event", "crowding events"),
    "line_crossing": ("line crossing", "line crossings"),
    "object_left": ("left object", "left objects"),
}
TYPE_QUESTION = {
    "": "events", "intrusion": "intrusions", "loitering": "loitering events",
    "crowding": "crowds", "line_crossing": "crossings", "object_left": "left objects",
}


def window_words(m):
    if m % 60 == 0:
        h = m // 60
        return "hour" if h == 1 else f"{h} hours"
    return f"{m} minutes"


def count_example(rng):
    zone = make_name(rng, ZONE_BASES if rng.random() < 0.7 else LINE_BASES) if rng.random() < 0.75 else ""
    etype = rng.choice(["", ""] + contract.EVENT_TYPES)
    cls = rng.choice([""] * 3 + CLASSES[:10]) if etype != "object_left" else rng.choice(["", "bag", "box"])
    n = rng.choice([0, rng.randint(0, 5), rng.randint(0, 40), rng.randint(0, 400)])
    m = rng.choice(WINDOWS)
    result = {"class": cls, "count": n, "type": etype, "window_min": m, "zone": zone}
    what = plural(cls) if cls else TYPE_QUESTION[etype]
    q_zone = rng.choice([zone, zone.lower()]) if zone else ""
    question = rng.choice([
        "how many {what}{zq} in the last {w}?", "How many {what} were there{zq} in the last {w}",
        "count {what}{zq} last {w}", "number of {what}{zq} over the past {w}?",
        "how many {what} did we have{zq} in the past {w}?",
    ]).format(what=what, zq=f" in {q_zone}" if q_zone else "", w=window_words(m))
    noun = TYPE_NOUNS[etype][0 if n == 1 else 1]
    cls_part = f" involving {cls if n == 1 else plural(cls)}" if cls else ""
    zone_part = f" in {zone}" if zone else rng.choice(["", " across the site"])
    window = f"in the last {m} minutes"
    if n == 0:
        answer = rng.choice([
            f"0 {TYPE_NOUNS[etype][1]}{cls_part}{zone_part} {window}.",
            f"None: 0 {TYPE_NOUNS[etype][1]}{cls_part}{zone_part} {window}.",
            f"{window.capitalize()} there were 0 {TYPE_NOUNS[etype][1]}{cls_part}{zone_part}.",
        ])
    else:
        answer = rng.choice([
            f"{n} {noun}{cls_part}{zone_part} {window}.",
            f"{window.capitalize()}: {n} {noun}{cls_part}{zone_part}.",
            f"There {'was' if n == 1 else 'were'} {n} {noun}{cls_part}{zone_part} {window}.",
            f"I count {n} {noun}{cls_part}{zone_part} {window}.",
            f"Count: {n} {noun}{cls_part}{zone_part} ({window}).",
        ])
    return question, "count", result, answer


def history(rng, zone, k):
    """k events (facts) at one zone, or across zones when zone is ""."""
    scene = Scene(rng)
    events = []
    for i in range(k):
        z = zone or make_name(rng, ZONE_BASES)
        etype = polygon_type(rng)
        if not zone and rng.random() < 0.25:
            z = make_name(rng, LINE_BASES)
            etype = "line_crossing"
        elif zone and zone_is_line(zone):
            etype = "line_crossing"
        events.append(scene.event(etype, z, make_rule_name(rng, etype, z),
                                  rng.uniform(5, 900) if i else 0))
    return events


def zone_is_line(zone):
    low = zone.lower().replace("_", " ").replace("-", " ")
    return any(low == b.lower() or low.startswith(b.lower() + " ") or low.endswith(" " + b.lower())
               for b in LINE_BASES + EXTRA_LINE_NOUNS)


def answer_clause(rng, facts, short_time):
    text = clause(rng, facts, short_time)
    if facts["zone"]:
        text += rng.choice([f" in {facts['zone']}", f" at {facts['zone']}"])
    return text


def what_happened_example(rng):
    zone = make_name(rng, ZONE_BASES) if rng.random() < 0.6 else ""
    m = rng.choice(WINDOWS)
    quiet = rng.random() < 0.2
    events = [] if quiet else history(rng, zone, rng.randint(1, 5))
    facts = [contract.event_facts(e) for e in events]
    total = len(facts) + (rng.choice([0, 0, rng.randint(1, 30)]) if len(facts) == 5 else 0)
    result = {"events": facts, "total": total, "window_min": m, "zone": zone}
    q_zone = rng.choice([zone, zone.lower()]) if zone else ""
    question = rng.choice([
        "what happened{zq} in the last {w}?", "What happened{zq}?", "anything{zq} in the past {w}",
        "any events{zq} over the last {w}?", "give me a summary{zq} for the last {w}",
    ]).format(zq=f" in {q_zone}" if q_zone else "", w=window_words(m))
    where = f" in {zone}" if zone else ""
    if total == 0:
        answer = rng.choice([
            f"Nothing happened{where} in the last {m} minutes: 0 events.",
            f"All quiet{where}: 0 events in the last {m} minutes.",
            f"No events{where} in the last {m} minutes (0 in total).",
            f"0 events{where} in the last {m} minutes. All quiet.",
        ])
        return question, "what_happened", result, answer
    short_time = rng.random() < 0.25
    clauses = [answer_clause(rng, f, short_time) for f in facts]
    head = rng.choice([
        f"{total} {'event' if total == 1 else 'events'}{where} in the last {m} minutes.",
        f"In the last {m} minutes{where}: {total} {'event' if total == 1 else 'events'}.",
        f"There {'was' if total == 1 else 'were'} {total} {'event' if total == 1 else 'events'}{where} in the last {m} minutes.",
    ])
    if total > len(facts):
        head += rng.choice([" The most recent:", " Latest ones:", " Most recent first listed below:"])
    body = "; ".join(clauses) + "."
    answer = head + " " + body[0].upper() + body[1:]
    return question, "what_happened", result, answer


def last_event_example(rng):
    zone = make_name(rng, ZONE_BASES) if rng.random() < 0.6 else ""
    question = rng.choice([
        "what was the last event{zq}?", "last alert{zq}", "What happened last{zq}?",
        "when was the last event{zq}?", "show me the latest event{zq}",
    ]).format(zq=f" in {rng.choice([zone, zone.lower()])}" if zone else "")
    where = f" in {zone}" if zone else ""
    if rng.random() < 0.15:
        result = {"event": None, "zone": zone}
        answer = rng.choice([f"No events recorded{where}.", f"Nothing has happened{where} yet.",
                             f"There are no events{where} on record."])
        return question, "last_event", result, answer
    facts = contract.event_facts(history(rng, zone, 1)[0])
    result = {"event": facts, "zone": zone}
    request = {"events": [facts], "site": ""}
    answer = rng.choice(["The last event: ", "Latest event. ", "Most recent: ", ""]) + single_report(rng, request)
    return question, "last_event", result, answer


def answer_example(rng):
    r = rng.random()
    if r < 0.34:
        return count_example(rng)
    if r < 0.67:
        return what_happened_example(rng)
    return last_event_example(rng)


# The fixed words of the answer templates above (their f-strings), for in_template_text.
ANSWER_TEXT = [
    "how many {what}{zq} in the last {w}?", "How many {what} were there{zq} in the last {w}",
    "count {what}{zq} last {w}", "number of {what}{zq} over the past {w}?",
    "how many {what} did we have{zq} in the past {w}?", " involving ", " across the site",
    "in the last {m} minutes", "None: 0 ", " there were 0 ", "There was ", "There were ",
    "I count ", "Count: ", "what happened{zq} in the last {w}?", "What happened{zq}?",
    "anything{zq} in the past {w}", "any events{zq} over the last {w}?",
    "give me a summary{zq} for the last {w}", "Nothing happened in the last minutes: 0 events.",
    "All quiet: 0 events in the last minutes.", "No events in the last minutes (0 in total).",
    "0 events in the last minutes. All quiet.", "1 event", "2 events", "In the last minutes: ",
    " The most recent:", " Latest ones:", " Most recent first listed below:",
    "what was the last event{zq}?", "last alert{zq}", "What happened last{zq}?",
    "when was the last event{zq}?", "show me the latest event{zq}", "No events recorded.",
    "Nothing has happened yet.", "There are no events on record.", "The last event: ",
    "Latest event. ", "Most recent: ", "1 hour", "2 hours", "in zone ", "in the camera view",
    "in view of the camera", "in the monitored scene", "[{site}] ", "Site {site}. ", " Rule: ",
    "has have was were is are", "a an",
]


def template_text():
    """Every fixed piece of text a target can hold besides the names and numbers of its input,
    lower case, one piece a line."""
    global _TEMPLATE_TEXT
    if _TEMPLATE_TEXT is None:
        pieces = []
        for table in (SINGLE, DURATION_TAILS, CLAUSES):
            for etype in sorted(table):
                pieces += table[etype]
        pieces += ONGOING_TAILS + OUTROS + BURST_INTROS + BURST_OUTROS + BURST_LINE_INTROS
        pieces += CLAUSE_DURATION + CLAUSE_ONGOING + ANSWER_TEXT
        for etype in sorted(TYPE_NOUNS):
            pieces += list(TYPE_NOUNS[etype]) + [TYPE_QUESTION[etype]]
        for etype in contract.EVENT_TYPES:
            pieces += factcheck.TYPE_WORDS[etype]
        for c in CLASSES + ["object"]:
            pieces += [c, plural(c), article(c)]
        for d in contract.DIRECTIONS:
            pieces += list(direction_words(d))
        _TEMPLATE_TEXT = "\n".join(factcheck.ascii_lower(p) for p in pieces)
    return _TEMPLATE_TEXT


_TEMPLATE_TEXT = None


def in_template_text(name):
    """True when `name` (any case) occurs inside the fixed text of the templates."""
    return factcheck.ascii_lower(name) in template_text()


# ---------------------------------------------------------------------------------------------
# Examples and files.

def report_example(rng, burst_share=0.4):
    site, events = burst(rng) if rng.random() < burst_share else single_event(rng)
    request = contract.report_request(events, site)
    return site, events, request, report_target(rng, request)


def training_lines(seed, n, answer_share=0.3):
    rng = random.Random(seed)
    for _ in range(n):
        if rng.random() < answer_share:
            question, intent, result, answer = answer_example(rng)
            yield {"prompt": contract.answer_prompt(question, intent, result),
                   "target": answer + contract.END, "kind": intent}
        else:
            site, events, request, target = report_example(rng)
            yield {"prompt": contract.report_prompt(events, site), "target": target + contract.END,
                   "kind": "burst" if len(events) > 1 else events[0]["type"]}


def heldout_lines(seed, n):
    rng = random.Random(seed)
    for _ in range(n):
        site, events, request, target = report_example(rng)
        yield {"events": events, "site": site, "tz": "UTC",
               "prompt": contract.report_prompt(events, site), "request": request,
               "reference": target}


def edge_events():
    """Hand-made events for the C++/Python prompt parity test: UTF-8, escapes, rounding."""
    base = {
        "id": "cam0-000001", "rule": "door", "type": "intrusion", "zone": "entrance",
        "camera": "cam0", "track_ids": [7], "class": "person", "start_s": 12.4, "end_s": None,
        "start_unix": 1700000000.0, "frame_index": 124, "confidence": 0.81,
        "bbox": [1.0, 2.0, 3.0, 4.0], "snapshot": "", "direction": "", "count": 0,
    }

    def ev(**kw):
        e = dict(base)
        e.update(kw)
        assert not contract.schema_errors(e, contract.EVENT_SCHEMA), e
        return e

    return [
        ("Site Ä", [ev(zone="Café Terrace 2", start_s=12.5, end_s=15.0)]),  # 2.5 s -> 3, not 2
        ("倉庫 Süd", [ev(zone="倉庫 2", start_s=0.0, end_s=4.5)]),           # 4.5 s -> 5, not 4
        ('Quote "Plant"', [ev(zone='Dock "3"\\A', rule="tab\trule")]),  # escapes
        ("ctl", [ev(zone="line\nbreak\u0001", rule="\u007f")]),         # control characters
        ("mixed", [ev(type="crowding", **{"class": ""}, track_ids=[1, 2, 3], count=0)]),
        ("empty", [ev(track_ids=[], count=0, start_unix=1700000000.999)]),
        ("line", [ev(type="line_crossing", direction="right_to_left", count=42, end_s=12.4)]),
        ("dir on polygon", [ev(type="loitering", direction="left_to_right", end_s=1012.6)]),
        ("midnight", [ev(start_unix=1699999199.5, end_s=12.4)]),
        ("emoji 🚚", [ev(zone="Dock 🚚", **{"class": "forklift"}, start_unix=0.0)]),
        ("ended equal", [ev(type="object_left", zone="", end_s=12.4, start_s=12.4)]),
        ("large", [ev(type="crowding", count=123456789012, end_s=1e9, start_s=0.0)]),
    ]


def write_jsonl(path, lines):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")


def testdata_lines():
    rng = random.Random(20240607)
    lines = []
    for site, events in edge_events():
        lines.append({"events": events, "site": site,
                      "prompt": contract.report_prompt(events, site)})
    for _ in range(30):
        site, events = burst(rng) if rng.random() < 0.4 else single_event(rng)
        lines.append({"events": events, "site": site,
                      "prompt": contract.report_prompt(events, site)})
    for _ in range(10):
        question, intent, result, _ = answer_example(rng)
        lines.append({"question": question, "intent": intent, "result": result,
                      "prompt": contract.answer_prompt(question, intent, result)})
    return lines


def checks_lines():
    """Reports (references and damaged copies) with the Python checker's verdict, for the C++
    checker test (tests/fusion/report_eval_test.cpp): both sides must agree exactly."""
    rng = random.Random(77)
    full = vocabulary()
    items = []
    for _ in range(25):
        site, events, request, target = report_example(rng)
        items.append((request, target))
    zones = sorted({e["zone"] for r, _ in items for e in r["events"] if e["zone"]})
    vocab = {"zones": sorted(set(zones + rng.sample(full["zones"], 150))), "classes": full["classes"]}
    lines = []
    for request, target in items:
        variants = [target]
        zone = request["events"][0]["zone"]
        if zone:
            variants.append(target.replace(zone, rng.choice(vocab["zones"])))
        variants.append(target.replace(request["events"][0]["time"][:5], "07:41"))
        variants.append(target.replace(str(request["events"][0]["count"]), str(rng.randint(2, 99)), 1))
        variants.append(target + " " + rng.choice(CLASSES) + " seen.")
        variants.append(target.upper())
        for report in variants:
            result = factcheck.check(report, request, vocab)
            lines.append({"report": report, "request": request, "facts": result["facts"],
                          "hallucinations": result["hallucinations"]})
    return vocab, lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["train", "heldout", "testdata", "vocab"])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--out", default="")
    p.add_argument("--answer-share", type=float, default=0.3)
    args = p.parse_args(argv)
    contract.use_utc()
    if args.what == "train":
        write_jsonl(args.out, training_lines(args.seed, args.n, args.answer_share))
    elif args.what == "heldout":
        write_jsonl(args.out, heldout_lines(args.seed, args.n))
        vocab_path = os.path.join(os.path.dirname(os.path.abspath(args.out)), "vocab.json")
        with open(vocab_path, "w", encoding="utf-8") as f:
            json.dump(vocabulary(), f, ensure_ascii=False, indent=0)
    elif args.what == "vocab":
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(vocabulary(), f, ensure_ascii=False, indent=0)
    else:
        here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata")
        write_jsonl(os.path.join(here, "prompts.jsonl"), testdata_lines())
        vocab, lines = checks_lines()
        write_jsonl(os.path.join(here, "checks.jsonl"), lines)
        with open(os.path.join(here, "checks_vocab.json"), "w", encoding="utf-8") as f:
            json.dump(vocab, f, ensure_ascii=False, indent=0)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
