"""Text data: vocabularies, the procedural corpora `SentimentText` and `MultitaskText`, Brunner et
al. (2018)'s syntax prototypes and loaders for a user's plain-text corpus."""
from disentax.data.text.corpus import (
                                       CORPUS_SEED,
                                       MULTITASK_SIZES,
                                       SENTIMENT_SIZES,
                                       MultitaskText,
                                       SentimentText,
                                       before_eos,
                                       char_vocabulary,
)
from disentax.data.text.loaders import TextCorpus, load_text_corpus
from disentax.data.text.prototypes import (
                                       EMPTY_LABEL,
                                       NUM_PROTOTYPE_CLASSES,
                                       PROTOTYPES,
                                       prototype_regex,
                                       syntax_prototypes,
)
from disentax.data.text.vocab import BOS, EOS, PAD, UNK, Vocabulary, join_words, tokenize

__all__ = ["Vocabulary", "PAD", "BOS", "EOS", "UNK", "tokenize", "join_words", "SentimentText",
           "MultitaskText", "CORPUS_SEED", "SENTIMENT_SIZES", "MULTITASK_SIZES", "before_eos", "char_vocabulary",
           "syntax_prototypes", "PROTOTYPES", "NUM_PROTOTYPE_CLASSES", "EMPTY_LABEL", "prototype_regex",
           "load_text_corpus", "TextCorpus"]
