"""Fact recall and hallucination check of one report against its request (docs/REPORT_FORMAT.md,
"Output"). src/fusion/report_eval.cpp implements the same rules for `vigil eval-reports`;
keep the two in step (tests/fusion/report_eval_test.cpp checks the C++ side with hand-written
reports, training/test_corpus.py checks every generated target with this module).

Rules (all matching is on ASCII-lowercased text; "bounded" means the characters around a match
are not ASCII letters or digits):
  1. Input places (zones, site) are masked out of the report, longest first.
  2. Type: one of TYPE_WORDS[type] occurs in that text (a substring, any case). Then the input
     rule names are masked too (a rule may be called "intrusion": masked only after step 2).
  3. Zone: the zone occurs bounded in the report (events with an empty zone have no zone fact).
  4. Class: the class or its plural occurs bounded in the masked text.
  5. Time: "HH:MM" occurs bounded in the report (so HH:MM:SS counts).
  6. Input classes (and plurals) and input times are masked too; then count: some digit run of
     what is left equals the count.
  7. Hallucinations in what is left: a vocabulary zone or class (or plural) occurring bounded, or
     a digit run whose value is none of the allowed numbers (counts and durations; for answers
     also totals and windows).
"""

import re

TYPE_WORDS = {
    "intrusion": ["intrusion", "intruder", "entered", "entering"],
    "loitering": ["loiter", "linger"],
    "crowding": ["crowd", "gathered", "gathering"],
    "line_crossing": ["crossed", "crossing"],
    "object_left": ["left object", "object left", "unattended", "abandoned"],
}

FACT_KINDS = ("type", "zone", "class", "count", "time")


def ascii_lower(text):
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in text)


def plural(noun):
    """English plural of a class label (its last word): person -> people, bus -> buses."""
    if noun == "person":
        return "people"
    if noun.endswith(" person"):
        return noun[: -len("person")] + "people"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if len(noun) >= 2 and noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _is_word_char(c):
    return c.isascii() and c.isalnum()


def find_bounded(text, needle, start=0):
    """Index of the first bounded occurrence of `needle` in `text`, or -1."""
    if not needle:
        return -1
    i = text.find(needle, start)
    while i >= 0:
        before_ok = i == 0 or not _is_word_char(text[i - 1])
        j = i + len(needle)
        after_ok = j == len(text) or not _is_word_char(text[j])
        if before_ok and after_ok:
            return i
        i = text.find(needle, i + 1)
    return -1


def mask(text, needles):
    """Replaces every occurrence of each needle (longest first) with a '|' run."""
    for n in sorted({n for n in needles if n}, key=lambda s: (-len(s), s)):
        text = text.replace(n, "|" * len(n))
    return text


def digit_runs(text):
    return re.findall(r"[0-9]+", text)


def number_value(run):
    """Integer value of a digit run (None when too long to be a fact)."""
    return int(run) if len(run) <= 18 else None


def check(report, request, vocab, extra_numbers=(), extra_places=(), extra_classes=()):
    """Checks `report` against a report request {"events": [...], "site": ...}.

    Returns {"facts": [{kind: True/False/None per event}], "hallucinations": [strings]}; None
    means the fact does not apply (an empty zone). `vocab`: {"zones": [...], "classes": [...]}.
    The extra_* arguments name further input facts (operator answers: the question's zone,
    class, window and totals).
    """
    events = request["events"]
    text = ascii_lower(report)
    places = [ascii_lower(e["zone"]) for e in events] + [ascii_lower(request.get("site", ""))]
    places += [ascii_lower(p) for p in extra_places]
    masked_places = mask(text, places)
    masked = mask(masked_places, [ascii_lower(e["rule"]) for e in events])
    classes = set()
    for c in [e["class"] for e in events] + list(extra_classes):
        c = ascii_lower(c)
        if c:
            classes.update([c, plural(c)])
    times = set()
    for e in events:
        times.update([e["time"], e["time"][:5]])
    rest = mask(masked, list(classes) + list(times))
    rest_numbers = {number_value(r) for r in digit_runs(rest)}

    facts = []
    for e in events:
        zone = ascii_lower(e["zone"])
        c = ascii_lower(e["class"])
        facts.append({
            "type": any(w in masked_places for w in TYPE_WORDS[e["type"]]),
            "zone": None if not zone else find_bounded(text, zone) >= 0,
            "class": find_bounded(masked, c) >= 0 or find_bounded(masked, plural(c)) >= 0,
            "time": find_bounded(text, e["time"][:5]) >= 0,
            "count": e["count"] in rest_numbers,
        })

    allowed = {e["count"] for e in events}
    allowed |= {e["duration_s"] for e in events if e["duration_s"] is not None}
    allowed |= set(extra_numbers)
    return {"facts": facts, "hallucinations": hallucinations(rest, vocab, allowed)}


class VocabIndex:
    """Vocabulary entries keyed by their first word, so one pass over the words of a report
    finds every bounded occurrence (a linear scan per entry is too slow for ~10k zones)."""

    def __init__(self, vocab):
        self.by_word = {}
        self.other = []  # entries that do not start with a word character
        for kind, key in (("zone", "zones"), ("class", "classes")):
            for name in vocab.get(key, []):
                forms = [name] if kind == "zone" else [name, plural(name)]
                for form in forms:
                    low = ascii_lower(form)
                    m = re.match(r"[a-z0-9]+", low)
                    entry = (low, kind + ":" + name)
                    if m:
                        self.by_word.setdefault(m.group(0), []).append(entry)
                    elif low:
                        self.other.append(entry)

    def find(self, text):
        found = []
        for m in re.finditer(r"[a-z0-9]+", text):
            for low, label in self.by_word.get(m.group(0), ()):
                j = m.start() + len(low)
                if text.startswith(low, m.start()) and (j == len(text) or not _is_word_char(text[j])):
                    if label not in found:
                        found.append(label)
        for low, label in self.other:
            if find_bounded(text, low) >= 0 and label not in found:
                found.append(label)
        return found


_INDEX_CACHE = {}


def vocab_index(vocab):
    key = id(vocab)
    if key not in _INDEX_CACHE:
        _INDEX_CACHE[key] = (vocab, VocabIndex(vocab))
    return _INDEX_CACHE[key][1]


def hallucinations(rest, vocab, allowed):
    """Vocabulary zones/classes and numbers left in the masked text that the input lacks."""
    found = vocab_index(vocab).find(rest)
    for run in digit_runs(rest):
        v = number_value(run)
        if v is None or v not in allowed:
            found.append("number:" + run)
    return found


def answer_facts(intent, result):
    """(events, numbers, places, classes) that an operator answer may state."""
    events = []
    numbers = {result.get("window_min", 0)}
    places = [result.get("zone", "")]
    classes = []
    if intent == "count":
        numbers.add(result["count"])
        classes.append(result["class"])
    elif intent == "what_happened":
        events = list(result["events"])
        numbers.add(result["total"])
    elif intent == "last_event":
        if result["event"] is not None:
            events = [result["event"]]
    return events, numbers, places, classes
