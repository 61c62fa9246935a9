"""The lexicons and grammars of the procedural text corpora.

Two corpora stand in for the papers' real text (offline, exact attributes):

* The review sentences of `SentimentText` (for Zhao et al. (2018), Melnyk et al. (2018) and Larsson
  et al. (2018), who use Yelp reviews): short templates over three topics (food, film, phone). Every
  polar word (adjective, verb, adverb) has exactly one opposite, so a sentence's sentiment is read
  exactly from the polar lexicon and its sentiment-flipped counterpart is the same template, the
  same nouns, every polar word swapped. No negation ("not", "never"), so polarity is a property of
  words, not of scope. Present and past tense forms are separate words.
* The English-like sentences of `MultitaskText` (for Brunner et al. (2018), who use Europarl with
  German and French translations and NLTK part-of-speech tags): a small stochastic grammar with
  several clause types, singular / plural nouns, -s and -ing verb forms, adverbs, prepositions,
  modals, purpose and comparison clauses and questions. The lexicon also fills Brunner et al.'s 13
  syntax prototypes (`disentax.data.text.prototypes`). Translations are toy languages: an invented
  word form per English word form (not German or French words) and one reordering rule each.

Tags are Penn-Treebank-like (what NLTK's tagger emits): NN / NNS nouns, VB base verb, VBP present
non-3rd-person, VBZ 3rd-person -s, VBD past, VBG -ing, VBN participle, MD modal, JJ, RB, DT, PRP,
PRP$, IN, TO, CC, and the punctuation tags "." and ",".
"""
from __future__ import annotations

import functools

import numpy as np

from disentax.data.text.vocab import Vocabulary, join_words

__all__ = [
    "TAGS", "tag_vocabulary",
    # sentiment
    "TOPICS", "TOPIC_NOUNS", "GENERIC_ADJECTIVES", "TOPIC_ADJECTIVES", "POLAR_VERBS", "POLAR_ADVERBS",
    "NEUTRAL_VERBS", "NEUTRAL_ADJECTIVES", "INTENSIFIERS", "PRONOUNS", "SENTIMENT_TEMPLATES",
    "SentimentLexicon", "sentiment_lexicon",
    # multitask
    "NOUNS", "VERBS", "ADJECTIVES", "ADVERBS", "MultitaskLexicon", "multitask_lexicon",
    "MultitaskGrammar", "generate_multitask_sentence", "LANGUAGES", "word_map", "reorder", "translate", "untranslate", "render",
]

TAGS = ("CC", "DT", "IN", "JJ", "MD", "NN", "NNS", "PRP", "PRP$", "RB", "TO", "VB", "VBD", "VBG", "VBN",
        "VBP", "VBZ", ".", ",")


@functools.lru_cache(maxsize=None)
def tag_vocabulary() -> Vocabulary:
    """The part-of-speech tags of both corpora (ids 0-3 reserved, as in every Vocabulary)."""
    return Vocabulary(TAGS)


# ============================================================================ sentiment corpus

TOPICS = ("food", "film", "phone")
TOPIC_NOUNS = {
    "food": ("pizza", "soup", "pasta", "salad", "burger", "steak", "bread", "cake", "sauce", "coffee",
             "curry", "dessert", "sandwich"),
    "film": ("film", "movie", "plot", "cast", "script", "ending", "soundtrack", "actor", "director",
             "sequel", "story", "scene", "villain"),
    "phone": ("phone", "battery", "screen", "camera", "charger", "keyboard", "speaker", "case", "app",
              "display", "headset", "processor", "cable"),
}
# (positive, negative) pairs: each word's exact opposite.
GENERIC_ADJECTIVES = (("good", "bad"), ("great", "awful"), ("excellent", "poor"), ("wonderful", "horrible"),
                      ("amazing", "terrible"), ("superb", "mediocre"))
TOPIC_ADJECTIVES = {
    "food": (("tasty", "bland"), ("fresh", "stale"), ("delicious", "disgusting")),
    "film": (("funny", "dull"), ("moving", "boring"), ("thrilling", "tedious")),
    "phone": (("fast", "slow"), ("reliable", "faulty"), ("sturdy", "flimsy")),
}
# ((positive present, positive past), (negative present, negative past))
POLAR_VERBS = ((("love", "loved"), ("hate", "hated")), (("enjoy", "enjoyed"), ("dislike", "disliked")),
               (("adore", "adored"), ("despise", "despised")), (("recommend", "recommended"),
                                                                 ("regret", "regretted")))
POLAR_ADVERBS = (("wonderfully", "horribly"), ("beautifully", "badly"), ("perfectly", "poorly"),
                 ("brilliantly", "terribly"))
NEUTRAL_VERBS = {  # (present, past), what one does with a topic's nouns
    "food": (("eat", "ate"), ("order", "ordered"), ("try", "tried")),
    "film": (("watch", "watched"), ("see", "saw"), ("rent", "rented")),
    "phone": (("buy", "bought"), ("use", "used"), ("get", "got")),
}
NEUTRAL_ADJECTIVES = ("small", "big", "new", "old", "simple", "modern")
INTENSIFIERS = ("really", "very", "quite", "so")
PRONOUNS = ("i", "we", "they")
_FUNCTION_TAGS = {"the": "DT", "this": "DT", "and": "CC", "but": "CC", "it": "PRP", "made": "VBN",
                  "is": "VBZ", "are": "VBP", "was": "VBD", "were": "VBD"}

# Slots: N a topic noun (distinct within a sentence), A a polar adjective (distinct), J a neutral
# adjective, V a polar verb, U a neutral (topic) verb, D a polar adverb, I an intensifier, P a
# subject pronoun, B "is"/"was", R "are"/"were"; any other symbol is the word itself.
SENTIMENT_TEMPLATES = (
    "the N B A",
    "the N B I A",
    "P V the N",
    "P V the N and the N",
    "the N and the N R A",
    "the N B A and A",
    "P U the N and it B A",
    "the N B J but A",
    "the N B J but the N B A",
    "the N B D made",
    "the N B D A",
    "P V this A N",
    "the A N B I A",
    "this N B A and P V it",
    "P really V the N",
    "P U the N and P V it",
    "P U the A N",
    "the N B A but the N B J",
    "the N B I A and the N B D A",
)


class SentimentLexicon:
    """Word lists of the sentiment corpus and the id tables derived from them.

    `vocab` (Vocabulary); id arrays over the vocabulary: `polarity` (+1 positive, -1 negative, 0
    neutral), `opposite` (the exact opposite of a polar word, the word itself otherwise), `is_noun`
    (content nouns), `noun_topic` (topic of a noun, -1 otherwise), `pos` (tag id per word), `tense`
    (0 present, 1 past, -1 tenseless). `forms[slot][topic][sentiment][tense]` is the tuple of ids a
    slot draws from.
    """

    def __init__(self):
        tags = tag_vocabulary()
        words: dict[str, str] = {}  # word -> tag, in vocabulary order
        polarity: dict[str, int] = {}
        opposite: dict[str, str] = {}
        tense: dict[str, int] = {}
        topic_of: dict[str, int] = {}

        def add(word, tag):
            if word in words and words[word] != tag:
                raise AssertionError(f"{word!r} has two tags")
            words[word] = tag

        for w, t in _FUNCTION_TAGS.items():
            add(w, t)
        tense.update({"is": 0, "are": 0, "was": 1, "were": 1})
        for p in PRONOUNS:
            add(p, "PRP")
        for w in INTENSIFIERS:
            add(w, "RB")
        for w in NEUTRAL_ADJECTIVES:
            add(w, "JJ")
        for k, topic in enumerate(TOPICS):
            for n in TOPIC_NOUNS[topic]:
                add(n, "NN")
                topic_of[n] = k
            for (present, past) in NEUTRAL_VERBS[topic]:
                add(present, "VBP")
                add(past, "VBD")
                tense[present], tense[past] = 0, 1
        pairs = list(GENERIC_ADJECTIVES) + [p for t in TOPICS for p in TOPIC_ADJECTIVES[t]]
        for pos_w, neg_w in pairs:
            add(pos_w, "JJ")
            add(neg_w, "JJ")
        for (pp, pq), (np_, nq) in POLAR_VERBS:
            for w, tg in ((pp, "VBP"), (pq, "VBD"), (np_, "VBP"), (nq, "VBD")):
                add(w, tg)
            tense.update({pp: 0, np_: 0, pq: 1, nq: 1})
            pairs += [(pp, np_), (pq, nq)]
        for pos_w, neg_w in POLAR_ADVERBS:
            add(pos_w, "RB")
            add(neg_w, "RB")
        pairs += list(POLAR_ADVERBS)
        for pos_w, neg_w in pairs:
            polarity[pos_w], polarity[neg_w] = 1, -1
            opposite[pos_w], opposite[neg_w] = neg_w, pos_w

        self.vocab = Vocabulary(words)
        v = self.vocab
        size = v.size
        self.polarity = np.zeros(size, np.int32)
        self.opposite = np.arange(size, dtype=np.int32)
        self.is_noun = np.zeros(size, bool)
        self.noun_topic = np.full(size, -1, np.int32)
        self.pos = np.zeros(size, np.int32)
        self.tense = np.full(size, -1, np.int32)
        self.pos[:4] = np.arange(4)  # specials tag as themselves (EOS position -> EOS tag)
        for w, tg in words.items():
            i = v.id(w)
            self.pos[i] = tags.id(tg)
            self.polarity[i] = polarity.get(w, 0)
            self.opposite[i] = v.id(opposite.get(w, w))
            self.tense[i] = tense.get(w, -1)
            if w in topic_of:
                self.is_noun[i] = True
                self.noun_topic[i] = topic_of[w]

        def ids(ws):
            return tuple(v.id(w) for w in ws)

        # forms[slot][topic][sentiment][tense] -> ids (sentiment 1 = positive)
        forms = {}
        for slot in "NAJVUDIPBR":
            forms[slot] = [[[None, None] for _ in range(2)] for _ in TOPICS]
        for k, topic in enumerate(TOPICS):
            adj = list(GENERIC_ADJECTIVES) + list(TOPIC_ADJECTIVES[topic])
            for s in (0, 1):
                pick = 0 if s == 1 else 1  # positive words are first in each pair
                for te in (0, 1):
                    f = {
                        "N": ids(TOPIC_NOUNS[topic]),
                        "A": ids(p[pick] for p in adj),
                        "J": ids(NEUTRAL_ADJECTIVES),
                        "V": ids(pair[pick][te] for pair in POLAR_VERBS),
                        "U": ids(p[te] for p in NEUTRAL_VERBS[topic]),
                        "D": ids(p[pick] for p in POLAR_ADVERBS),
                        "I": ids(INTENSIFIERS),
                        "P": ids(PRONOUNS),
                        "B": ids((("is", "was")[te],)),
                        "R": ids((("are", "were")[te],)),
                    }
                    for slot, val in f.items():
                        forms[slot][k][s][te] = val
        self.forms = forms
        self.templates = tuple(t.split() for t in SENTIMENT_TEMPLATES)
        self.template_ids = tuple(tuple(-1 if w in forms else v.id(w) for w in t) for t in self.templates)


@functools.lru_cache(maxsize=None)
def sentiment_lexicon() -> SentimentLexicon:
    """The sentiment corpus's lexicon (built once per process)."""
    return SentimentLexicon()


# ============================================================================ multitask corpus

# Nouns and adjectives begin with a consonant so that "a" before them is always right.
NOUNS = (("dog", "dogs"), ("cat", "cats"), ("house", "houses"), ("garden", "gardens"),
         ("teacher", "teachers"), ("child", "children"), ("city", "cities"), ("river", "rivers"),
         ("table", "tables"), ("book", "books"), ("letter", "letters"), ("window", "windows"),
         ("farmer", "farmers"), ("doctor", "doctors"), ("road", "roads"), ("tree", "trees"),
         ("bird", "birds"), ("car", "cars"), ("boat", "boats"), ("king", "kings"), ("friend", "friends"),
         ("market", "markets"), ("song", "songs"), ("party", "parties"), ("box", "boxes"),
         ("wall", "walls"), ("horse", "horses"), ("woman", "women"), ("man", "men"), ("story", "stories"),
         ("country", "countries"), ("school", "schools"), ("mountain", "mountains"),
         ("village", "villages"), ("kitchen", "kitchens"), ("bridge", "bridges"), ("painter", "painters"),
         ("student", "students"), ("lamp", "lamps"), ("bottle", "bottles"))
VERBS = (("watch", "watches", "watching"), ("help", "helps", "helping"), ("follow", "follows", "following"),
         ("build", "builds", "building"), ("carry", "carries", "carrying"), ("find", "finds", "finding"),
         ("keep", "keeps", "keeping"), ("open", "opens", "opening"), ("paint", "paints", "painting"),
         ("push", "pushes", "pushing"), ("read", "reads", "reading"), ("sell", "sells", "selling"),
         ("visit", "visits", "visiting"), ("wash", "washes", "washing"), ("write", "writes", "writing"),
         ("catch", "catches", "catching"), ("drive", "drives", "driving"), ("fix", "fixes", "fixing"),
         ("lift", "lifts", "lifting"), ("teach", "teaches", "teaching"), ("throw", "throws", "throwing"),
         ("bring", "brings", "bringing"), ("hide", "hides", "hiding"), ("pull", "pulls", "pulling"),
         ("see", "sees", "seeing"), ("win", "wins", "winning"), ("cut", "cuts", "cutting"),
         ("eat", "eats", "eating"), ("hold", "holds", "holding"), ("draw", "draws", "drawing"))
ADJECTIVES = ("big", "small", "red", "green", "quiet", "happy", "dark", "cold", "warm", "strong", "tall",
              "young", "new", "bright", "heavy", "busy", "rich", "famous", "gentle", "narrow", "simple",
              "sharp", "soft", "loud", "brave", "clever", "tired", "wise", "wild", "lazy")
ADVERBS = ("quickly", "slowly", "quietly", "carefully", "happily", "badly", "gently", "loudly", "rarely",
           "suddenly", "easily", "proudly")
_MT_FUNCTION = {
    "DT": ("the", "a", "no", "some", "every", "this", "these", "many", "any"),
    "PRP$": ("my", "their", "his", "her", "our"),
    "PRP": ("they", "we", "he", "she", "it"),
    "IN": ("of", "in", "on", "with", "without", "near", "under", "like", "for", "from", "after", "than"),
    "MD": ("will", "would", "can", "must", "should"),
    "RB": ("ever", "still", "often", "never", "always", "rather"),
    "CC": ("but", "and"),
    "TO": ("to",),
    ".": (".", "?"),
    ",": (",",),
}
_MT_AUX = {"is": "VBZ", "are": "VBP", "has": "VBZ", "have": "VBP", "does": "VBZ", "do": "VBP", "be": "VB",
           "order": "NN"}


class MultitaskLexicon:
    """Word forms of the multitask corpus: `tags_of[word]` (the tags the grammar gives it), the
    content classes `noun` / `nouns` / `verb` / `verbs` / `ving` / `adjective` / `adverb` (tuples of
    words, Brunner et al.'s +N, +Ns, +V, +Vs, +Ving, +A, +D), and `vocab` (every word form and
    punctuation mark, lower case)."""

    def __init__(self):
        self.noun = tuple(n for n, _ in NOUNS)
        self.nouns = tuple(p for _, p in NOUNS)
        self.verb = tuple(v[0] for v in VERBS)
        self.verbs = tuple(v[1] for v in VERBS)
        self.ving = tuple(v[2] for v in VERBS)
        self.adjective = ADJECTIVES
        self.adverb = ADVERBS
        tags_of: dict[str, set] = {}

        def add(ws, tag):
            for w in ws:
                tags_of.setdefault(w, set()).add(tag)

        add(self.noun, "NN")
        add(self.nouns, "NNS")
        add(self.verb, "VB")
        add(self.verb, "VBP")
        add(self.verbs, "VBZ")
        add(self.ving, "VBG")
        add(self.adjective, "JJ")
        add(self.adverb, "RB")
        for tag, ws in _MT_FUNCTION.items():
            add(ws, tag)
        for w, tag in _MT_AUX.items():
            add([w], tag)
        content = [self.noun, self.nouns, self.verb, self.verbs, self.ving, self.adjective, self.adverb]
        flat = [w for c in content for w in c]
        if len(set(flat)) != len(flat) or set(flat) & set(w for ws in _MT_FUNCTION.values() for w in ws):
            raise AssertionError("multitask lexicon: a content word form is in two classes")
        self.tags_of = {w: frozenset(t) for w, t in tags_of.items()}
        self.vocab = Vocabulary(tags_of)
        # The inflection of each form, for the toy translations: (lemma, form kind).
        self.lemma_of: dict[str, tuple[str, str]] = {}
        for sg, pl in NOUNS:
            self.lemma_of[sg] = (sg, "sg")
            self.lemma_of[pl] = (sg, "pl")
        for base, s, ing in VERBS:
            self.lemma_of[base], self.lemma_of[s], self.lemma_of[ing] = (base, "base"), (base, "s"), (base, "ing")
        for w in tags_of:
            self.lemma_of.setdefault(w, (w, "word"))


@functools.lru_cache(maxsize=None)
def multitask_lexicon() -> MultitaskLexicon:
    """The multitask corpus's lexicon (built once per process)."""
    return MultitaskLexicon()


class MultitaskGrammar:
    """The multitask grammar drawing from `rng`: `sentence()` -> (words, tags) (see
    `generate_multitask_sentence`). Uniforms are drawn from `rng` in blocks of 256 (a python-level
    draw per choice would dominate the corpus's generation time)."""

    def __init__(self, lex: MultitaskLexicon, rng: np.random.Generator):
        self.lex, self.rng, self.out, self._buf = lex, rng, [], []

    def _u(self) -> float:
        if not self._buf:
            self._buf = self.rng.random(256).tolist()
        return self._buf.pop()

    def p(self, prob) -> bool:
        return self._u() < prob

    def pick(self, seq):
        return seq[int(self._u() * len(seq))]

    def __call__(self) -> tuple[list[str], list[str]]:
        self.out = []
        self.sentence()
        return [w for w, _ in self.out], [t for _, t in self.out]

    def w(self, word, tag):
        self.out.append((word, tag))

    def noun_phrase(self, plural: bool, pp: bool = True, pronoun: float = 0.0, det: bool = True,
                    negative: bool = True):
        lex = self.lex
        if pronoun and self.p(pronoun):
            self.w(self.pick(("they", "we")) if plural else self.pick(("he", "she", "it")), "PRP")
            return
        if det:
            if plural:
                r = self._u()
                if r < 0.6:
                    d = self.pick(("the", "some", "these", "many", "no", "their", "our", "any"))
                    d = d if negative or d != "no" else "the"  # no "without no ..."
                    self.w(d, "PRP$" if d in ("their", "our") else "DT")
            else:
                d = self.pick(("the", "the", "a", "a", "this", "no", "every", "my", "their", "his", "her"))
                d = d if negative or d != "no" else "the"
                self.w(d, "PRP$" if d in _MT_FUNCTION["PRP$"] else "DT")
        if self.p(0.35):
            self.w(self.pick(lex.adjective), "JJ")
        self.w(self.pick(lex.nouns if plural else lex.noun), "NNS" if plural else "NN")
        if pp and self.p(0.2):
            self.prep_phrase(("of", "with", "near", "from", "without"))

    def prep_phrase(self, preps=("in", "on", "with", "near", "under", "for", "after", "without", "of", "from",
                                 "like")):
        prep = self.pick(preps)
        self.w(prep, "IN")
        if prep in ("of", "on", "without", "after", "for") and self.p(0.2):
            self.w(self.pick(self.lex.ving), "VBG")  # a gerund: "of cutting the bread"
            self.noun_phrase(self.p(0.3), pp=False, negative=False)
        elif prep == "of" and self.p(0.3):
            self.w(self.pick(self.lex.noun), "NN")  # a bare noun: "in the garden of king"
        else:
            self.noun_phrase(self.p(0.4), pp=False, negative=False)

    def tail(self):
        r = self._u()
        if r < 0.15:
            self.w(self.pick(self.lex.adverb), "RB")
        elif r < 0.4:
            self.prep_phrase()

    def base_vp(self):
        """A verb phrase after a modal, "to" or "do": VB ..."""
        lex, r = self.lex, self._u()
        if r < 0.15:
            self.w("be", "VB")
            self.w(self.pick(lex.adjective), "JJ")
        elif r < 0.25:
            self.w("rather", "RB")
            self.w(self.pick(lex.verb), "VB")
            self.noun_phrase(self.p(0.5), pp=False)
            self.w("than", "IN")
            self.w(self.pick(lex.verb), "VB")
            self.noun_phrase(self.p(0.5), pp=False)
        else:
            self.w(self.pick(lex.verb), "VB")
            if self.p(0.7):
                self.noun_phrase(self.p(0.4))
            self.tail()

    def finite_vp(self, plural: bool, no_subject: bool = False):
        lex, r = self.lex, self._u()
        if r < 0.15:
            self.w("are" if plural else "is", "VBP" if plural else "VBZ")
            if self.p(0.3):
                self.w(self.pick(("still", "often", "never", "always")), "RB")
            self.w(self.pick(lex.adjective), "JJ")
        elif r < 0.25:
            self.w("are" if plural else "is", "VBP" if plural else "VBZ")
            self.w(self.pick(lex.ving), "VBG")
            if self.p(0.6):
                self.noun_phrase(self.p(0.4))
            self.tail()
        elif r < 0.35:
            self.w("have" if plural else "has", "VBP" if plural else "VBZ")
            self.noun_phrase(self.p(0.4))
        elif r < 0.5:
            self.w(self.pick(_MT_FUNCTION["MD"]), "MD")
            self.base_vp()
        else:
            if no_subject and self.p(0.5):
                self.w("ever", "RB")  # "no dog ever runs"; "ever" only after a "no" subject
            elif self.p(0.25):
                self.w(self.pick(lex.adverb + ("often", "still", "never", "always")), "RB")
            if plural:
                self.w(self.pick(lex.verb), "VBP")
            else:
                self.w(self.pick(lex.verbs), "VBZ")
            if self.p(0.6):
                self.noun_phrase(self.p(0.4))
            self.tail()

    def clause(self):
        plural = self.p(0.45)
        start = len(self.out)
        self.noun_phrase(plural, pronoun=0.15)
        self.finite_vp(plural, self.out[start][0] == "no")
        if self.p(0.08):
            self.w("in", "IN")
            self.w("order", "NN")
            self.w("to", "TO")
            self.base_vp()

    def question(self):
        lex, r = self.lex, self._u()
        plural = self.p(0.5)
        if r < 0.3:
            self.w("are" if plural else "is", "VBP" if plural else "VBZ")
            self.noun_phrase(plural, pp=False, pronoun=0.1)
            if self.p(0.5):
                self.w(self.pick(lex.adjective), "JJ")
            else:
                self.w(self.pick(lex.ving), "VBG")
                self.noun_phrase(self.p(0.4), pp=False)
        elif r < 0.7:
            self.w("do" if plural else "does", "VBP" if plural else "VBZ")
            self.noun_phrase(plural, pronoun=0.15)
            if self.p(0.2):
                self.w("ever", "RB")
            self.base_vp()
        else:
            self.w(self.pick(_MT_FUNCTION["MD"]), "MD")
            self.noun_phrase(plural, pronoun=0.15)
            self.base_vp()
        self.w("?", ".")

    def sentence(self):
        r = self._u()
        if r < 0.15:
            self.question()
            return
        if r < 0.3:
            self.prep_phrase(("in", "after", "without", "near", "for"))
            self.w(",", ",")
            self.clause()
        else:
            self.clause()
        if self.p(0.2):
            self.w(",", ",")
            self.w(self.pick(("but", "and")), "CC")
            self.clause()
        self.w(".", ".")


def generate_multitask_sentence(rng: np.random.Generator, lex: MultitaskLexicon | None = None):
    """One sentence of the multitask grammar: (words, tags), lower case, punctuation as words.

    The grammar (a hand-written stochastic grammar, a stand-in for the Europarl English of Brunner
    et al. (2018), Sec. 3.3): a sentence is a statement, a fronted prepositional phrase and a
    statement, two statements joined by ", but" / ", and", or a question ("is/are NP A?",
    "does/do NP V ...?", "MD NP V ...?"). A statement is a noun phrase (determiner or possessive,
    optional adjective, singular or plural noun, optional "of/with/near ..." phrase, or a pronoun)
    and a verb phrase agreeing with it: "is/are (RB) A", "is/are Ving ...", "has/have NP", a modal
    with a base verb phrase (incl. "be A" and "rather V NP than V NP"), or an -s / plural verb with
    an optional adverb before it ("ever" only after a "no" subject), object and adverb or
    prepositional phrase (gerunds after "of",
    "on", ...), and sometimes "in order to V ...". The probabilities are chosen by hand so that all
    of Brunner et al.'s prototype constructions occur in varied combinations.
    """
    return MultitaskGrammar(lex or multitask_lexicon(), rng)()


# ----------------------------------------------------------------------------- toy translations

LANGUAGES = ("de", "fr")
# Invented sound inventories and inflection endings per toy language (not German or French).
_PHONES = {
    "de": (("b", "d", "f", "g", "h", "k", "l", "m", "n", "r", "s", "t", "w", "z", "sch", "st"),
           ("a", "e", "i", "o", "u", "ei", "au")),
    "fr": (("b", "c", "d", "f", "j", "l", "m", "n", "p", "r", "s", "t", "v", "ch", "gr"),
           ("a", "e", "i", "o", "ou", "eu", "ai")),
}
_ENDINGS = {
    "de": {"sg": "", "pl": "en", "base": "en", "s": "t", "ing": "end", "word": ""},
    "fr": {"sg": "", "pl": "x", "base": "er", "s": "e", "ing": "ant", "word": ""},
}
_LANGUAGE_SEEDS = {"de": 1849, "fr": 1792}
_VERBAL = frozenset({"VB", "VBP", "VBZ", "VBD", "MD"})
_BOUNDARY = frozenset({",", ".", "?", "but", "and", "than"})


@functools.lru_cache(maxsize=None)
def word_map(language: str) -> dict[str, str]:
    """The toy language's word for every English word form of the multitask lexicon.

    Each lemma gets an invented stem (1-3 syllables from the language's inventory, about as long as
    the English lemma, drawn from a fixed per-language seed), inflected forms add the language's
    ending (de: plural -en, base -en, -s -> -t, -ing -> -end; fr: plural -x, base -er, -s -> -e,
    -ing -> -ant); punctuation is kept. Stems are redrawn until the map is injective, so a
    translation's words can always be mapped back.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    lex = multitask_lexicon()
    rng = np.random.default_rng(_LANGUAGE_SEEDS[language])
    cons, vows = _PHONES[language]
    endings = _ENDINGS[language]
    forms_of: dict[str, list[tuple[str, str]]] = {}
    for w, (lemma, kind) in lex.lemma_of.items():
        forms_of.setdefault(lemma, []).append((w, kind))
    out: dict[str, str] = {}
    used: set[str] = set()
    for lemma in sorted(forms_of):
        if not lemma[0].isalpha():
            for w, _ in forms_of[lemma]:
                out[w] = w
                used.add(w)
            continue
        syllables = max(1, min(3, round(len(lemma) / 3)))
        while True:
            stem = "".join(cons[rng.integers(len(cons))] + vows[rng.integers(len(vows))]
                           for _ in range(syllables))
            if rng.random() < 0.5:
                stem += cons[rng.integers(len(cons))]
            cand = {w: stem + endings[kind] for w, kind in forms_of[lemma]}
            if not (set(cand.values()) & used) and len(set(cand.values())) == len(cand):
                break
        out.update(cand)
        used.update(cand.values())
    return out


def reorder(words, tags, language: str) -> list[int]:
    """The toy language's word order as a permutation: output position i holds source word
    `order[i]`.

    de: in every clause (the stretches between ",", ".", "?", "but", "and", "than", which stay in
    place) the verbal words (tags VB, VBP, VBZ, VBD, MD) move to the clause's end, keeping their
    order ("the dog will see the cat ." -> "the dog the cat will see ."). fr: a run of adjectives
    (JJ) directly before a noun (NN, NNS) moves after the noun ("the red car" -> "the car red");
    predicative adjectives stay. Both are permutations, so `untranslate` inverts a translation
    exactly given the order.
    """
    n = len(tags)
    if language == "de":
        order, rest, verbs = [], [], []
        for i, (w, t) in enumerate(zip(words, tags)):
            if w in _BOUNDARY:
                order += rest
                order += verbs
                order.append(i)
                rest, verbs = [], []
            elif t in _VERBAL:
                verbs.append(i)
            else:
                rest.append(i)
        return order + rest + verbs
    if language == "fr":
        order, i = [], 0
        while i < n:
            j = i
            while j < n and tags[j] == "JJ":
                j += 1
            if i < j < n and tags[j] in ("NN", "NNS"):
                order.append(j)
                order.extend(range(i, j))
                i = j + 1
            elif j > i:
                order.extend(range(i, j))
                i = j
            else:
                order.append(i)
                i += 1
        return order
    raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")


def translate(words, tags, language: str) -> list[str]:
    """The toy translation of a tagged English sentence (lower-case words, punctuation as words):
    `word_map` applied in the `reorder` order: out[i] = map(words[order[i]])."""
    m = word_map(language)
    return [m[words[i]] for i in reorder(words, tags, language)]


def untranslate(translated, order, language: str) -> list[str]:
    """The English words back from a translation, given the permutation `order` of `reorder`:
    the inverse word map, then the inverse permutation."""
    inverse = {v: k for k, v in word_map(language).items()}
    out = [None] * len(order)
    for pos, src in enumerate(order):
        out[src] = inverse[translated[pos]]
    return out


def render(words) -> str:
    """A sentence's text: words joined (no space before punctuation), first letter capitalised."""
    s = join_words(words)
    return s[:1].upper() + s[1:]
