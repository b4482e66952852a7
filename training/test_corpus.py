#!/usr/bin/env python3
"""Checks of the corpus generator (standard library only; runs in ctest as training_corpus):
every target states the facts of its input and nothing else, events follow the schema, the
committed prompt test data is current, and the checker itself catches bad reports."""

import json
import os
import random
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import contract  # noqa: E402
import corpus  # noqa: E402
import factcheck  # noqa: E402

N_LINES = int(os.environ.get("VIGIL_CORPUS_TEST_N", "2500"))


def request_of(prompt):
    assert prompt.startswith(contract.FACTS)
    for end in (contract.REPORT, contract.ANSWER):
        if prompt.endswith(end):
            return json.loads(prompt[len(contract.FACTS):-len(end)]), end
    raise AssertionError("prompt without <|report|> or <|answer|>: " + prompt)


class Vocab:
    value = None

    @classmethod
    def get(cls):
        if cls.value is None:
            cls.value = corpus.vocabulary()
        return cls.value


class CorpusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        contract.use_utc()
        cls.lines = list(corpus.training_lines(seed=7, n=N_LINES))

    def assert_report_ok(self, report, request, extra=(), what="", places=(), classes=()):
        result = factcheck.check(report, request, Vocab.get(), extra, places, classes)
        for i, facts in enumerate(result["facts"]):
            for kind, ok in facts.items():
                self.assertIn(ok, (True, None), f"{what}: event {i} misses its {kind}:\n{report}\n"
                              f"{json.dumps(request, ensure_ascii=False)}")
        self.assertEqual(result["hallucinations"], [], f"{what}: {report}")

    def test_report_targets_state_all_facts_and_nothing_else(self):
        kinds = set()
        for line in self.lines:
            request, end = request_of(line["prompt"])
            self.assertTrue(line["target"].endswith(contract.END))
            target = line["target"][: -len(contract.END)]
            self.assertNotIn("<|", target)
            self.assertEqual(contract.schema_errors(request, contract.REQUEST_SCHEMA), [], line)
            kinds.add(line["kind"])
            if end == contract.REPORT:
                self.assert_report_ok(target, request, what=line["kind"])
        self.assertTrue(set(contract.EVENT_TYPES + ["burst"] + list(contract.INTENTS)) <= kinds, kinds)

    def test_answer_targets(self):
        for line in self.lines:
            request, end = request_of(line["prompt"])
            if end != contract.ANSWER:
                continue
            intent, result = request["intent"], request["result"]
            answer = line["target"][: -len(contract.END)]
            events, extra, places, classes = factcheck.answer_facts(intent, result)
            pseudo = {"events": events, "site": ""}
            self.assert_report_ok(answer, pseudo, extra, intent, places, classes)
            text = factcheck.ascii_lower(answer)
            runs = {int(r) for r in factcheck.digit_runs(text)}
            if intent == "count":
                self.assertIn(result["count"], runs, answer)
                self.assertIn(result["window_min"], runs, answer)
                if result["zone"]:
                    self.assertGreaterEqual(factcheck.find_bounded(text, factcheck.ascii_lower(result["zone"])), 0, answer)
                if result["class"]:
                    c = result["class"]
                    self.assertTrue(factcheck.find_bounded(text, c) >= 0 or
                                    factcheck.find_bounded(text, factcheck.plural(c)) >= 0, answer)
            elif intent == "what_happened":
                self.assertIn(result["total"], runs, answer)
                self.assertIn(result["window_min"], runs, answer)

    def test_templates(self):
        for etype in contract.EVENT_TYPES:
            templates = corpus.SINGLE[etype]
            self.assertGreaterEqual(len(set(templates)), 20, etype)
            for t in templates:
                low = t.lower()
                self.assertTrue(any(w in low for w in factcheck.TYPE_WORDS[etype]), t)
            for t in corpus.CLAUSES[etype]:
                self.assertTrue(any(w in t.lower() for w in factcheck.TYPE_WORDS[etype]), t)

    def test_events_follow_the_schema(self):
        rng = random.Random(3)
        seen_types = set()
        for _ in range(300):
            site, events = corpus.burst(rng) if rng.random() < 0.5 else corpus.single_event(rng)
            for e in events:
                self.assertEqual(list(e.keys()), contract.EVENT_KEYS)
                self.assertEqual(contract.schema_errors(e, contract.EVENT_SCHEMA), [])
                seen_types.add(e["type"])
            if len(events) > 1:
                self.assertEqual(len({e["zone"] for e in events}), 1)
        self.assertEqual(seen_types, set(contract.EVENT_TYPES))

    def test_schema_checker_rejects(self):
        site, events = corpus.single_event(random.Random(5))
        e = dict(events[0])
        self.assertEqual(contract.schema_errors(e, contract.EVENT_SCHEMA), [])
        bad = dict(e)
        del bad["zone"]
        self.assertTrue(contract.schema_errors(bad, contract.EVENT_SCHEMA))
        bad = dict(e, extra=1)
        self.assertTrue(contract.schema_errors(bad, contract.EVENT_SCHEMA))
        bad = dict(e, count=1.5)
        self.assertTrue(contract.schema_errors(bad, contract.EVENT_SCHEMA))
        bad = dict(e, type="fire")
        self.assertTrue(contract.schema_errors(bad, contract.EVENT_SCHEMA))
        bad = dict(e, bbox=[1, 2, 3])
        self.assertTrue(contract.schema_errors(bad, contract.EVENT_SCHEMA))
        req = contract.report_request(events, site)
        req["events"][0]["time"] = "25:00:00"
        self.assertTrue(contract.schema_errors(req, contract.REQUEST_SCHEMA))

    def test_facts_rules(self):
        e = corpus.edge_events()
        contract.use_utc()
        f = contract.event_facts(e[0][1][0])
        self.assertEqual(f["duration_s"], 3)      # 2.5 rounds away from zero
        self.assertEqual(contract.event_facts(e[1][1][0])["duration_s"], 5)
        self.assertEqual(f["time"], "22:13:20")   # 1700000000 is 2023-11-14 22:13:20 UTC
        self.assertEqual(contract.event_facts(e[4][1][0])["class"], "object")
        self.assertEqual(contract.event_facts(e[4][1][0])["count"], 3)
        self.assertEqual(contract.event_facts(e[5][1][0])["count"], 1)
        self.assertEqual(contract.event_facts(e[6][1][0])["count"], 42)
        self.assertEqual(contract.event_facts(e[7][1][0])["direction"], "")
        self.assertEqual(contract.event_facts(e[8][1][0])["time"], "21:59:59")

    def test_checker_catches_bad_reports(self):
        request = {"site": "Harbor Depot", "events": [{
            "class": "person", "count": 1, "direction": "", "duration_s": 42, "rule": "dock_3_intrusion",
            "time": "14:03:22", "type": "intrusion", "zone": "Dock 3"}]}
        vocab = Vocab.get()
        good = factcheck.check("1 person entered Dock 3 at 14:03:22. It stayed 42 s.", request, vocab)
        self.assertEqual(good["hallucinations"], [])
        self.assertTrue(all(v for v in good["facts"][0].values()))
        bad = factcheck.check("2 dogs entered Dock 4 at 14:05.", request, vocab)
        self.assertFalse(bad["facts"][0]["zone"])
        self.assertFalse(bad["facts"][0]["class"])
        self.assertFalse(bad["facts"][0]["time"])
        self.assertFalse(bad["facts"][0]["count"])
        self.assertIn("zone:Dock 4", bad["hallucinations"])
        self.assertIn("class:dog", bad["hallucinations"])  # matched through the plural
        self.assertIn("number:2", bad["hallucinations"])
        foreign = factcheck.check("1 person entered Dock 3 at 14:03:22 with a dog.", request, vocab)
        self.assertEqual(foreign["hallucinations"], ["class:dog"])

    def test_deterministic_and_heldout_differs(self):
        a = [l["prompt"] for l in corpus.training_lines(seed=11, n=50)]
        b = [l["prompt"] for l in corpus.training_lines(seed=11, n=50)]
        self.assertEqual(a, b)
        held = [l["prompt"] for l in corpus.heldout_lines(seed=9001, n=200)]
        train = {l["prompt"] for l in corpus.training_lines(seed=1, n=2000)}
        self.assertLess(len(train.intersection(held)), 2)

    def test_heldout_lines(self):
        for line in corpus.heldout_lines(seed=9001, n=100):
            self.assertEqual(line["prompt"], contract.report_prompt(line["events"], line["site"]))
            self.assert_report_ok(line["reference"], line["request"], what="heldout")

    def base_names(self):
        names = set()
        for name in corpus.all_names(corpus.ZONE_BASES) + corpus.all_names(corpus.LINE_BASES):
            names.update(corpus.styled(name, style) for style in range(4))
        return names

    def test_novel_names_at_the_expected_rate(self):
        base = self.base_names()
        vocab = set(Vocab.get()["zones"])
        rng = random.Random(13)
        n = 8000
        names = [corpus.make_name(rng, corpus.LINE_BASES if i % 3 == 0 else corpus.ZONE_BASES)
                 for i in range(n)]
        novel = [z for z in names if z not in base]
        self.assertAlmostEqual(len(novel) / n, corpus.NOVEL_SHARE, delta=0.03)
        # All three kinds occur: random words (not even in the vocabulary), extra place nouns
        # (in the vocabulary, not among the bases) and single lower-case words like "lawn".
        words = [z for z in novel if z not in vocab]
        nouns = [z for z in novel if z in vocab]
        single = [z for z in novel if z.isalpha() and z == z.lower()]
        self.assertGreater(len(words) / n, 0.12, words[:20])
        self.assertGreater(len(nouns) / n, 0.08, nouns[:20])
        self.assertGreater(len(single) / n, 0.05, single[:20])
        self.assertGreater(len(set(words)), 0.9 * len(words))  # hardly ever the same word twice
        for style in (str.istitle, str.islower):
            self.assertTrue(any(style(z) for z in words), style)
        self.assertTrue(any("_" in z for z in words) and any("-" in z for z in words))
        # And in the corpus itself: the zones of the report and answer requests.
        zones = []
        for line in self.lines:
            request, end = request_of(line["prompt"])
            events = request["events"] if end == contract.REPORT else (
                request["result"].get("events") or [request["result"].get("event") or {}])
            zones += [e["zone"] for e in events if e and e["zone"]]
        share = sum(z not in base for z in zones) / len(zones)
        self.assertAlmostEqual(share, corpus.NOVEL_SHARE, delta=0.06)

    def test_heldout_names_are_unseen(self):
        train = set()
        for line in corpus.training_lines(seed=1, n=3000):
            request, end = request_of(line["prompt"])
            if end == contract.REPORT:
                train.update(e["zone"] for e in request["events"])
        held = [l["request"]["events"][0]["zone"] for l in corpus.heldout_lines(seed=9001, n=300)]
        held = [z for z in held if z]
        unseen = [z for z in held if z not in train]
        self.assertGreater(len(unseen) / len(held), 0.2, unseen)

    def test_demo_names_are_never_generated(self):
        for name in ("lawn", "Plaza", "PLAZA 3", "mid-line", "north_midline", "Lawnside", "mid line"):
            self.assertTrue(corpus.is_excluded(name), name)
        self.assertFalse(corpus.is_excluded("Law Court"))
        for name in Vocab.get()["zones"]:
            self.assertFalse(corpus.is_excluded(name), name)
        rng = random.Random(17)
        for i in range(20000):
            for kind in ("zone", "line"):
                name = corpus.novel_name(rng, kind)
                self.assertFalse(corpus.is_excluded(name), name)
        texts = [l["prompt"] + l["target"] for l in self.lines]
        texts += [l["prompt"] + l["reference"] for l in corpus.heldout_lines(seed=9001, n=1000)]
        for text in texts:
            squeezed = "".join(c for c in text.lower() if c.isalnum())
            for demo in corpus.EXCLUDED_NAMES:
                self.assertNotIn(demo, squeezed, text)

    def test_site_names_are_often_novel_and_never_the_demo(self):
        rng = random.Random(7)
        sites = [corpus.make_site(rng) for _ in range(6000)]
        classic = {f"{p} {k}" for p in corpus.SITE_PLACES for k in corpus.SITE_KINDS}
        novel = [s for s in sites if s.rsplit(" ", 1)[0] not in classic and s not in classic]
        self.assertAlmostEqual(len(novel) / len(sites), corpus.SITE_NOVEL_SHARE, delta=0.04)
        self.assertTrue(any(s.split()[0] in corpus.SITE_KINDS + corpus.SITE_EXTRA_KINDS and
                            s.split()[-1].islower() for s in novel))
        for s in sites:
            self.assertNotIn("demo", s.lower().split())

    def test_extra_place_nouns(self):
        self.assertGreaterEqual(len(corpus.EXTRA_ZONE_NOUNS), 80)
        nouns = corpus.EXTRA_ZONE_NOUNS + corpus.EXTRA_LINE_NOUNS
        self.assertEqual(len(set(n.lower() for n in nouns)), len(nouns))
        bases = {b.lower() for b in corpus.ZONE_BASES + corpus.LINE_BASES}
        classes = set(corpus.CLASSES) | {factcheck.plural(c) for c in corpus.CLASSES}
        for noun in nouns:
            self.assertNotIn(noun.lower(), bases, noun)
            self.assertFalse(corpus.is_excluded(noun), noun)
            self.assertFalse(corpus.in_template_text(noun), noun)
            self.assertFalse(set(noun.lower().split()) & classes, noun)

    def test_checks_testdata_is_current(self):
        vocab, lines = corpus.checks_lines()
        with open(os.path.join(HERE, "testdata", "checks.jsonl"), encoding="utf-8") as f:
            self.assertEqual([json.loads(l) for l in f], lines,
                             "training/testdata/checks.jsonl is stale: run python3 training/corpus.py testdata")
        with open(os.path.join(HERE, "testdata", "checks_vocab.json"), encoding="utf-8") as f:
            self.assertEqual(json.load(f), vocab)
        # The damaged copies must mostly be caught, or the C++ comparison proves little.
        bad = sum(1 for l in lines if l["hallucinations"] or
                  any(v is False for f in l["facts"] for v in f.values()))
        self.assertGreater(bad, len(lines) // 2)

    def test_testdata_is_current(self):
        path = os.path.join(HERE, "testdata", "prompts.jsonl")
        with open(path, encoding="utf-8") as f:
            committed = [json.loads(l) for l in f]
        self.assertEqual(committed, corpus.testdata_lines(),
                         "training/testdata/prompts.jsonl is stale: run python3 training/corpus.py testdata")


if __name__ == "__main__":
    unittest.main()
