"""One message naming every event of a storm."""

from __future__ import annotations

from typing import Any

from bot.blocks import (
    MESSAGE_BLOCKS_MAX,
    SECTION_TEXT_MAX,
    context,
    header,
    one_line,
    section,
    truncate,
)

# Each summary line is cut to one section's text limit, so even in the worst case
# every line gets its own section: 40 sections + header + context = 42 <= 50 blocks.
DIGEST_MAX_ITEMS = 40


def build_digest(
    summaries: list[str], *, total: int | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """One message naming every event of a storm: (fallback text, blocks).

    `total` is how many events the storm had, when this message shows only some.
    """
    if not summaries:
        raise ValueError("a digest needs at least one summary")
    if len(summaries) > DIGEST_MAX_ITEMS:
        raise ValueError(
            f"a digest holds at most {DIGEST_MAX_ITEMS} summaries, got {len(summaries)}"
        )
    count = len(summaries) if total is None else total
    if count < len(summaries):
        raise ValueError(f"total {count} is less than the {len(summaries)} summaries")

    chunks: list[str] = []
    current = ""
    for summary in summaries:
        line = truncate(one_line(summary), SECTION_TEXT_MAX)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > SECTION_TEXT_MAX:
            chunks.append(current)
            candidate = line
        current = candidate
    chunks.append(current)

    title = f"{count} Stripe event" if count == 1 else f"{count} Stripe events"
    blocks = [header(f":bell: {title}"), *(section(chunk) for chunk in chunks)]
    if count > len(summaries):
        blocks.append(context(f"Showing {len(summaries)} of {count} events here."))
    if len(blocks) > MESSAGE_BLOCKS_MAX:  # unreachable given DIGEST_MAX_ITEMS
        raise ValueError("digest does not fit in one message")
    return title, blocks
