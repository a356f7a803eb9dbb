"""Topic keywords for AI-research interview episodes.

A small curated vocabulary with aliases is what makes one topic across
episodes one topic: "RL", "reinforcement learning" and "Reinforcement
Learning" all become ``"reinforcement learning"``; "world model", "World
Models" and "world-model" all become ``"world models"``.

Matching is not a regex per topic, nor a Python loop over the words: the
text is lower-cased, encoded, punctuation is turned into a "|" word (so a topic
never spans a comma), and the words are counted with one C-level Counter.
Single-word aliases are looked up in it; multi-word aliases are counted with
``bytes.count`` only when their first two words both occur.  "world model" and
"world-model" are both in the table; a hyphenated word that is not an alias
("LLM-based") is searched part by part.  A few aliases that are also ordinary
words in lower case ("Lean", "CoT", "RAG") only match with their exact case.
"""

from __future__ import annotations

import re
from collections import Counter

__all__ = ["extract_topics", "normalize_topic", "VOCABULARY"]

# canonical topic -> aliases (the canonical form is always an alias too).
# Plural/singular variants are listed explicitly: the table *is* the folding.
VOCABULARY: dict[str, tuple[str, ...]] = {
    # --- models and methods -------------------------------------------------
    "world models": ("world model", "world models", "world modeling", "world modelling"),
    "diffusion": ("diffusion", "diffusion model", "diffusion models", "diffusion process",
                  "denoising diffusion", "score-based model", "score-based models",
                  "stable diffusion"),
    "flow matching": ("flow matching",),
    "reinforcement learning": ("reinforcement learning", "RL", "RL environments",
                               "RL environment", "policy gradient", "policy gradients",
                               "reward model", "reward models", "verifiable rewards", "RLVR"),
    "RLHF": ("RLHF", "reinforcement learning from human feedback", "DPO"),
    "LLMs": ("LLM", "LLMs", "large language model", "large language models",
             "language model", "language models", "frontier model", "frontier models",
             "foundation model", "foundation models"),
    "transformers": ("transformer", "transformers", "attention mechanism", "self-attention"),
    "mixture of experts": ("mixture of experts", "mixture-of-experts", "MoE", "MoEs"),
    "JEPA": ("JEPA", "JEPAs", "joint embedding predictive architecture",
             "joint-embedding predictive architecture"),
    "GANs": ("GAN", "GANs", "generative adversarial network", "generative adversarial networks",
             "adversarial training"),
    "VAEs": ("VAE", "VAEs", "variational autoencoder", "variational autoencoders"),
    "autoencoders": ("autoencoder", "autoencoders"),
    "RNNs": ("RNN", "RNNs", "LSTM", "LSTMs", "recurrent neural network",
             "recurrent neural networks", "recurrent networks"),
    "CNNs": ("CNN", "CNNs", "ConvNet", "ConvNets", "convolutional network",
             "convolutional networks", "convolutional neural network",
             "convolutional neural networks"),
    "energy-based models": ("energy-based model", "energy-based models", "EBM", "EBMs"),
    "generative models": ("generative model", "generative models", "generative modeling",
                          "generative modelling", "generative AI", "GenAI"),
    "autoregressive models": ("autoregressive model", "autoregressive models",
                              "autoregressive", "next-token prediction"),
    "denoising": ("denoising", "denoiser", "denoisers"),
    "reasoning": ("reasoning", "reasoning model", "reasoning models", "reasoners"),
    "chain of thought": ("chain of thought", "chain-of-thought", "CoT"),
    "planning": ("planning", "planner", "planners"),
    "agents": ("agent", "agents", "agentic", "AI agent", "AI agents", "LLM agents",
               "multi-agent", "agent-to-agent"),
    "coding agents": ("coding agent", "coding agents", "code agent", "code agents",
                      "AI coding", "vibe coding", "vibe-coded", "coding assistant",
                      "coding assistants", "code generation", "Claude Code"),
    "software engineering": ("software engineering", "software engineer",
                             "software engineers", "verified software"),
    "pre-training": ("pre-training", "pretraining", "pre-train", "pretrain", "pre-trained",
                     "pretrained"),
    "post-training": ("post-training", "posttraining", "mid-training"),
    "fine-tuning": ("fine-tuning", "finetuning", "fine-tune", "finetune", "fine-tuned",
                    "SFT", "supervised fine-tuning"),
    "distillation": ("distillation", "knowledge distillation", "distilled"),
    "test-time compute": ("test-time compute", "test-time training", "test-time scaling",
                          "inference-time compute", "inference-time scaling"),
    "continual learning": ("continual learning", "lifelong learning", "catastrophic forgetting",
                           "continual-learning"),
    "active learning": ("active learning",),
    "self-supervised learning": ("self-supervised learning", "self-supervised",
                                 "self-supervision"),
    "representation learning": ("representation learning", "embeddings", "joint embeddings", "joint embedding"),
    "in-context learning": ("in-context learning",),
    "meta-learning": ("meta-learning",),
    "generalization": ("generalization", "generalisation", "generalize", "generalise",
                       "out-of-distribution"),
    "inductive biases": ("inductive bias", "inductive biases"),
    "equivariance": ("equivariance", "equivariant", "equivariant networks", "symmetries"),
    "Bayesian methods": ("Bayesian", "Bayesian deep learning", "Bayesian inference",
                         "probabilistic models"),
    "optimization": ("optimization", "optimisation", "optimizer", "optimizers", "optimiser",
                     "optimisers", "SGD", "gradient descent", "Muon", "Adam optimizer",
                     "loss landscape", "loss landscapes"),
    "backpropagation": ("backpropagation", "backprop"),
    "normalization": ("normalization", "normalisation", "batch normalization", "batch norm",
                      "BatchNorm", "layer norm", "LayerNorm"),
    "tokenization": ("tokenization", "tokenisation", "tokenizer", "tokenizers"),
    "compression": ("compression", "compressed", "compressing"),
    "memory": ("memory", "working memory", "long-term memory"),
    "curiosity": ("curiosity", "artificial curiosity", "intrinsic motivation"),
    "retrieval": ("retrieval", "retrieval-augmented generation", "RAG"),
    "multimodality": ("multimodal", "multimodality", "multi-modal", "modalities",
                      "vision-language model", "vision-language models", "VLM", "VLMs"),
    "computer vision": ("computer vision", "vision", "vision model", "vision models",
                        "image recognition", "ImageNet", "CLIP"),
    "image generation": ("image generation", "video generation", "image generator",
                         "image generators", "video generators", "text-to-image",
                         "generated image", "generated images"),
    "computational imaging": ("computational imaging", "imaging", "inverse problems",
                              "camera pipeline"),
    "symbolic AI": ("symbolic AI", "neurosymbolic", "neuro-symbolic", "symbolic reasoning"),
    # --- evaluation, behaviour, safety --------------------------------------
    "benchmarks": ("benchmark", "benchmarks", "benchmarking", "leaderboard", "leaderboards",
                   "contamination", "data contamination"),
    "evaluation": ("evaluation", "evaluations", "evals", "eval"),
    "interpretability": ("interpretability", "mechanistic interpretability", "explainability",
                         "probing", "sparse autoencoder", "sparse autoencoders", "SAE", "SAEs"),
    "hallucination": ("hallucination", "hallucinations", "hallucinate", "confabulation"),
    "alignment": ("alignment", "AI alignment", "misalignment", "value alignment"),
    "AI safety": ("AI safety", "safety", "safety research"),
    "existential risk": ("existential risk", "x-risk", "human extinction", "extinction",
                         "doom", "p(doom)", "pdoom"),
    "security": ("security", "prompt injection", "jailbreak", "jailbreaks", "cybersecurity"),
    "regulation": ("regulation", "regulating", "AI policy", "governance", "pause AI"),
    "AGI": ("AGI", "artificial general intelligence", "superintelligence",
            "superhuman AI", "ASI"),
    # --- systems -------------------------------------------------------------
    "scaling": ("scaling", "scaling laws", "scaling law", "at scale", "scale up", "scaling up"),
    "inference": ("inference", "inference platform", "inference platforms",
                  "speculative decoding", "latency", "throughput"),
    "quantization": ("quantization", "quantisation", "quantized", "quantised", "FP4", "FP8",
                     "INT4", "INT8", "low precision", "low-precision"),
    "hardware": ("hardware", "GPU", "GPUs", "TPU", "TPUs", "chips", "chip design",
                 "accelerator", "accelerators", "HBM", "CUDA", "kernels", "Nvidia"),
    "infrastructure": ("infrastructure", "data center", "data centers", "data centre",
                       "data centres"),
    "energy": ("energy", "energy costs", "power wall", "electricity", "power consumption"),
    "efficiency": ("efficiency", "compute efficiency", "sample efficiency"),
    "synthetic data": ("synthetic data", "synthetic datasets", "model collapse",
                       "synthetic environments", "synthetic languages"),
    "datasets": ("dataset", "datasets", "data quality", "training data", "dataset bias",
                 "data curation"),
    "open source": ("open source", "open-source", "open models", "open weights",
                    "open-weight", "open-weights"),
    "on-device AI": ("on-device", "on-device AI", "local-first", "local-first AI", "edge AI",
                     "local models"),
    "robotics": ("robotics", "robot", "robots", "robotic"),
    "embodied AI": ("embodied AI", "embodiment", "embodied", "physical AI"),
    "automated research": ("automated research", "auto-research", "AI scientist",
                           "AI scientists", "autonomous research", "autonomous labs",
                           "autonomous lab", "self-driving labs", "self-driving lab"),
    # --- science and applications --------------------------------------------
    "AI for science": ("AI for science", "AI-for-science", "ML for science",
                       "ML-for-science", "scientific discovery"),
    "materials discovery": ("materials discovery", "materials science", "material discovery",
                            "materials"),
    "batteries": ("battery", "batteries", "electrolyte", "electrolytes"),
    "chemistry": ("chemistry", "chemical", "chemicals", "molecule", "molecules", "molecular"),
    "drug discovery": ("drug discovery", "drug design"),
    "biology": ("biology", "biological", "biologist", "biologists", "proteins", "protein",
                "protein folding", "genomics", "wet labs", "wet lab", "worms"),
    "healthcare": ("healthcare", "health care", "medicine", "medical", "clinical", "patients",
                   "health statistics"),
    "physics": ("physics", "thermodynamics", "quantum mechanics", "statistical physics",
                "statistical mechanics", "renormalization"),
    "mathematics": ("mathematics", "math", "maths", "mathematician", "mathematicians",
                    "mathematical discovery", "Erdős problems", "Erdos problems"),
    "theorem proving": ("theorem proving", "theorem prover", "theorem provers",
                        "proof assistant", "proof assistants", "formal verification",
                        "formalization", "formalisation", "auto-formalization",
                        "autoformalization", "formal mathematics", "formal math",
                        "Lean", "Mathlib", "Coq", "formal proofs", "provers"),
    "neuroscience": ("neuroscience", "brain", "brains", "neurons", "cognitive neuroscience",
                     "intracranial recordings"),
    "cognitive science": ("cognitive science", "cognition", "psycholinguistics",
                          "psychology"),
    "linguistics": ("linguistics", "linguistic", "syntax", "grammar"),
    "climate": ("climate", "climate change", "carbon capture"),
    "economics": ("economics", "economy", "economic", "economists", "economist",
                  "labor market", "labour market", "productivity", "Jevons paradox"),
    "jobs": ("jobs", "job", "employment", "unemployment", "layoffs",
             "job apocalypse", "automation"),
    "education": ("education", "teaching", "students", "student", "classroom", "homework",
                  "curriculum"),
    "academia": ("academia", "academic", "PhD", "PhDs", "PhD students", "NeurIPS", "ICLR",
                 "ICML", "conferences", "grant funding"),
    "peer review": ("peer review", "peer-review", "reviewers", "peer reviewed",
                    "peer-reviewed"),
    "startups": ("startup", "startups", "start-up", "start-ups", "founders",
                 "go-to-market"),
    "open-world learning": ("open world", "open-world", "open-ended", "open-endedness"),
    "history of AI": ("history of AI", "history of deep learning", "who invented",
                      "AI history"),
}

# Only this much of a description is scanned (chapter titles come separately).
MAX_DESCRIPTION_CHARS = 8000

# Aliases that are also ordinary words in lower case; matched with exact case.
_CASE_SENSITIVE = frozenset({"Lean", "CoT", "RAG", "SAE", "SAEs", "Muon", "CLIP", "Coq",
                             "ASI", "SFT", "DPO", "EBM", "EBMs"})

_SEP_RE = re.compile(r"\s+")
_HYPHEN_RE = re.compile(r"[\u2010-\u2012]")
_KEY_STRIP = " .,;:!?\"'()[]{}-"

# Words that start hyphenated aliases ("in-context", "pre-training") and are
# far too common on their own to start a spaced variant ("in context ...").
_NO_SPACED_VARIANT = frozenset(
    "in on at of to for pre post mid self multi auto test meta x non co fine low next "
    "re sub semi".split()
)


def _norm_key(s: str) -> str:
    """Lookup key: casefolded, one space between words, hyphens kept."""
    s = _HYPHEN_RE.sub("-", s.casefold())
    s = _SEP_RE.sub(" ", s).strip(_KEY_STRIP)
    return s.replace(" - ", "-").replace("- ", "-").replace(" -", "-")


def _variants(alias: str) -> set[str]:
    """Spellings of one alias: "world model" -> {"world model", "world-model"};
    "pre-training" -> {"pre-training"} ("pre training" is not how people
    write it, and spaced variants of "in-context" would make every "in" a
    candidate)."""
    k = _norm_key(alias)
    words = k.replace("-", " ").split(" ")
    out = {k, "-".join(words)}
    if words[0] not in _NO_SPACED_VARIANT:
        out.add(" ".join(words))
    return out


# key -> canonical topic, for every spelling of every alias.
_ALIAS_TO_CANON: dict[str, str] = {}
for _canon, _aliases in VOCABULARY.items():
    for _a in (_canon, *_aliases):
        if _a in _CASE_SENSITIVE:
            continue
        for _k in _variants(_a):
            _prev = _ALIAS_TO_CANON.setdefault(_k, _canon)
            if _prev != _canon:
                raise ValueError(f"alias {_a!r} maps to both {_prev!r} and {_canon!r}")

# Tie-break between equally ranked topics: vocabulary order (deterministic).
_ORDER = {c: i for i, c in enumerate(VOCABULARY)}

# Matching works on UTF-8 bytes: bytes.translate, replace, split and count
# are plain byte loops in C, several times faster than their str versions on
# text with any non-ASCII character.  _BTABLE mirrors _ALIAS_TO_CANON.
_BTABLE: dict[bytes, str] = {k.encode(): c for k, c in _ALIAS_TO_CANON.items()}

# Case-sensitive aliases are kept out of the case-folded table and matched on
# the original text ("Lean" yes, "lean" no), only when their lower-case form
# occurs among the words at all.
_CS_TO_CANON: dict[str, str] = {
    a: next(c for c, al in VOCABULARY.items() if a in al) for a in _CASE_SENSITIVE
}
_CS_LOWER = frozenset(a.lower().encode() for a in _CASE_SENSITIVE)
# One regex per case-sensitive alias, starting with the literal itself so the
# engine can jump between occurrences (a leading lookbehind would defeat that):
# "SFT(?<![\w-]SFT)" is "SFT" not preceded by a word character.
_CS_RES: dict[bytes, re.Pattern[str]] = {
    a.lower().encode(): re.compile(rf"{re.escape(a)}(?<![\w-]{re.escape(a)})(?!\w)")
    for a in _CASE_SENSITIVE
}

_SINGLE_WORDS = frozenset(k for k in _BTABLE if b" " not in k)
_FIRST_WORDS = frozenset(k.split(b" ")[0] for k in _BTABLE)


def _sub_aliases(key: bytes) -> tuple[bytes, ...]:
    """Aliases found as proper contiguous parts of a multi-word alias:
    "large language models" -> ("language models",), "coding agents" -> ("agents",)."""
    words = key.split(b" ")
    n = len(words)
    return tuple(
        b" ".join(words[i:j])
        for i in range(n)
        for j in range(i + 1, n + 1)
        if j - i < n and b" ".join(words[i:j]) in _BTABLE
    )


# first word -> [(b" key ", second word, key)], longest aliases first.
_MULTI: dict[bytes, list[tuple[bytes, bytes, bytes]]] = {}
for _k in sorted((k for k in _BTABLE if b" " in k), key=lambda k: -k.count(b" ")):
    _w = _k.split(b" ")
    _MULTI.setdefault(_w[0], []).append((b" " + _k + b" ", _w[1], _k))
_SUBS: dict[bytes, tuple[bytes, ...]] = {k: _sub_aliases(k) for k in _BTABLE if b" " in k}
_MULTI_FIRST = frozenset(_MULTI)

# Punctuation becomes a word of its own ("|"), so no alias matches across it
# ("world. Models" is no topic).  Non-ASCII punctuation and spaces are
# replaced first (a handful of byte searches), then one translate maps ASCII
# punctuation to "|".
_MB_REPLACE: tuple[tuple[bytes, bytes], ...] = tuple(
    (c.encode(), r)
    for c, r in (
        ("\u2013", b"|"), ("\u2014", b"|"), ("\u2026", b"|"), ("\u2022", b"|"),
        ("\u00b7", b"|"), ("\u201c", b"|"), ("\u201d", b"|"), ("\u2018", b"|"),
        ("\u2019", b"|"), ("\u00a0", b" "), ("\u2009", b" "), ("\u202f", b" "),
        ("\u2010", b"-"), ("\u2011", b"-"),
    )
)
_ASCII_PUNCT = b",.;:!?()[]{}\"'/|*+=<>`"
_PUNCT_TABLE = bytes.maketrans(_ASCII_PUNCT, b"|" * len(_ASCII_PUNCT))


def _words(text: str) -> list[bytes]:
    low = text.lower().encode()
    if not low.isascii():
        for mb, rep in _MB_REPLACE:
            if mb in low:
                low = low.replace(mb, rep)
    return low.translate(_PUNCT_TABLE).replace(b"|", b" | ").split()


def _compound_parts(parts: list[bytes]) -> list[str]:
    """Aliases inside a hyphenated word that is not an alias itself:
    "llm-based" -> ["LLMs"], "world-model-based" -> ["world models"]."""
    out = []
    k = 0
    n = len(parts)
    while k < n:
        for m in range(n, k, -1):
            canon = _BTABLE.get(b" ".join(parts[k:m]))
            if canon is not None:
                out.append(canon)
                k = m
                break
        else:
            k += 1
    return out


def _count_into(text: str, counts: dict[str, list[int]], slot: int) -> None:
    """Add the mentions of each canonical topic in ``text`` to ``counts[canon][slot]``.

    No Python loop over the words of the text: single-word aliases are counted
    by one C-level Counter, multi-word aliases by ``bytes.count`` on the
    re-joined words (only for aliases whose first two words both occur), and
    a mention inside a longer alias ("agents" in "coding agents") is taken
    back out, so each mention counts once, for its longest alias.
    """
    if not text:
        return
    words = _words(text)
    tally = Counter(words)
    table = _BTABLE
    keys: dict[bytes, int] = {w: tally[w] for w in _SINGLE_WORDS.intersection(tally)}

    first = _MULTI_FIRST.intersection(tally)
    if first:
        joined = None
        multi: list[bytes] = []
        for w in first:
            for padded, second, key in _MULTI[w]:
                if second in tally:
                    if joined is None:
                        joined = b" " + b" ".join(words) + b" "
                    c = joined.count(padded)
                    if c:
                        keys[key] = c
                        multi.append(key)
        if multi:
            multi.sort(key=lambda k: -k.count(b" "))
            for key in multi:
                c = keys[key]
                if c > 0:
                    for sub in _SUBS[key]:
                        if sub in keys:
                            keys[sub] -= c

    found: dict[str, int] = {}
    for key, c in keys.items():
        if c > 0:
            canon = table[key]
            found[canon] = found.get(canon, 0) + c

    if "-" in text:
        fw = _FIRST_WORDS
        for w in [w for w in tally if b"-" in w and w not in table and len(w) > 2]:
            parts = [p for p in w.split(b"-") if p]
            if not fw.isdisjoint(parts):
                for canon in _compound_parts(parts):
                    found[canon] = found.get(canon, 0) + tally[w]

    for low in _CS_LOWER.intersection(tally):
        for m in _CS_RES[low].finditer(text):
            canon = _CS_TO_CANON[m.group(0)]
            found[canon] = found.get(canon, 0) + 1

    for canon, k in found.items():
        c = counts.get(canon)
        if c is None:
            c = counts[canon] = [0, 0, 0]
        c[slot] += k


def normalize_topic(s: str) -> str:
    """Canonical form of a topic string.

    Known aliases fold to their canonical topic ("RL" -> "reinforcement
    learning", "World Model" -> "world models", "MoE" -> "mixture of experts",
    "large language models" -> "LLMs"), also when only the singular or plural
    is listed.  Unknown topics are lower-cased, with acronyms ("RLHF", "GPUs",
    "TPUv5") kept as written.
    """
    s = _SEP_RE.sub(" ", s).strip(_KEY_STRIP)
    if not s:
        return ""
    if s in _CS_TO_CANON:
        return _CS_TO_CANON[s]
    key = _norm_key(s)
    canon = _ALIAS_TO_CANON.get(key)
    if canon is None:
        canon = _ALIAS_TO_CANON.get(key.replace("-", " "))
    if canon is None and key.endswith("s"):
        canon = _ALIAS_TO_CANON.get(key[:-1])
    if canon is None:
        canon = _ALIAS_TO_CANON.get(key + "s")
    if canon is not None:
        return canon
    # Words with two or more capitals are acronyms or product names and keep
    # their case ("RLHF", "GPUs", "TPUv5"); everything else is lower case.
    return " ".join(w if sum(c.isupper() for c in w) >= 2 else w.lower() for w in s.split())


def extract_topics(
    title: str,
    chapter_titles: list[str],
    description_text: str,
    limit: int = 8,
) -> list[str]:
    """Up to ``limit`` canonical topics for one episode.

    Topics are ranked by hits in the title, then in chapter titles, then in
    the description; ties follow the vocabulary order.
    """
    counts: dict[str, list[int]] = {}
    _count_into(title, counts, 0)
    if chapter_titles:
        _count_into(" | ".join(chapter_titles), counts, 1)
    # Topics live in the opening of the notes; a 20 kB transcript-style post
    # would otherwise cost ten times an episode's budget for nothing.
    _count_into(description_text[:MAX_DESCRIPTION_CHARS], counts, 2)
    order = _ORDER
    ranked = sorted(counts, key=lambda c: (-counts[c][0], -counts[c][1], -counts[c][2], order[c]))
    return ranked[:limit]
