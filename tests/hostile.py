"""Hostile text for the property-based tests, and a count of the inputs tried (printed after the run).

Members and article authors can write anything: every Unicode character, zero-width and right-to-left
marks, 100 kB lines, markdown, code fences, and Discord's mention syntax.
"""

from __future__ import annotations

from hypothesis import Phase
from hypothesis import strategies as st

TRIED = [0]
# Shrinking 100 kB inputs takes minutes: a failure is reported as found.
NO_SHRINKING = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target)

MENTIONS = ["@everyone", "@here", "<@123456789012345678>", "<@!123456789012345678>", "<@&987654321098765432>",
            "<#111111111111111111>", "</ask:1234>", "<t:1700000000:R>"]  # fmt: skip
MARKUP = ["**", "*", "__", "_", "~~", "||", "`", "```", "```py\n", "> ", ">>> ", "# ", "-# ", "- ", "1. ",
          "[x](https://evil.example)", "<https://evil.example>", "https://evil.example/**a**_b_", "\\", "\\*",
          "\n", "\r\n", "\t", ":smile:", "<:emoji:123>"]  # fmt: skip
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202e", "\u202d", "\u2066", "\u2067",
             "\u2068", "\u2069", "\u200f", "\u200e", "\u0000", "\u2028", "\u2029", "\u0085"]  # fmt: skip

pieces = st.one_of(
    st.sampled_from(MENTIONS),
    st.sampled_from(MARKUP),
    st.sampled_from(INVISIBLE),
    st.text(min_size=1, max_size=30),  # any Unicode
    st.text(st.characters(codec="ascii"), min_size=1, max_size=30),
    st.sampled_from(["Mbappe", "Hakimi", "Morocco", "France", "semi-final", "2-0", "."]),
)


@st.composite
def hostile_text(draw: st.DrawFn, *, max_pieces: int = 40, long_lines: int = 10) -> str:
    """A mix of ordinary words, mentions, markdown and invisible marks; one time in ``long_lines``
    (never with 0) a 100 kB line too."""
    text = "".join(draw(st.lists(pieces, max_size=max_pieces)))
    if long_lines and draw(st.integers(1, long_lines)) == 1:
        text += draw(st.sampled_from(["x", "@everyone ", "**", "é", "\u200b", "Mbappe "])) * 100_000
    return text


def tried(count: int = 1) -> None:
    TRIED[0] += count
