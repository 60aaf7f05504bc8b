"""Build `training/data/anchor_photos/`: photographs with no food in them that a full retrain holds the
serving model's answers on, so that learning the taught foods does not teach it to see food everywhere.

    apt-get download tuxpaint-stamps-default && dpkg-deb -x tuxpaint-stamps-default_*.deb stamps
    .venv/bin/python scripts/build_anchor_photos.py stamps/usr/share/tuxpaint/stamps

Tux Paint's stamps are real photographs cut out on a transparent background (GPL-2+, Copyright 2002-2022
Bill Kendrick). Taken: every photo (no "cartoon" drawing) of the categories below, leaving out anything
edible (fish, shellfish, dishes, plants, seasonal) and stamps under `MIN_SIDE` px; the background is
flattened onto white and the photo downscaled so that its longer side is at most `MAX_SIDE` px, JPEG
quality 85. None of them is in `bench/data/food_photos` (the gate's regression set, which must stay
unseen by training). Writes the photos and their LICENSES file, one line per photo with its source.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image

CATEGORIES = ("animals", "household", "vehicles", "town", "clothes", "sports", "hobbies", "space")
LEFT_OUT = ("cartoon", "fish", "shellfish", "dishes", "compost", "toys")
MIN_SIDE = 120
MAX_SIDE = 320
OUT = Path(__file__).resolve().parents[1] / "training" / "data" / "anchor_photos"
HEADER = """Photographs with no food in them, for the full retrain's "learning without forgetting" term
(training/full_retrain.py): the serving model's answers on these are what the candidate must keep.
Built by scripts/build_anchor_photos.py from the Debian package tuxpaint-stamps-default 2022.06.04-1
(Debian 12 "bookworm"), path /usr/share/tuxpaint/stamps/. Real photographs cut out on a transparent
background. Licence: GPL-2 ("version 2 or (at your option) any later version"), Copyright 2002-2022
Bill Kendrick (/usr/share/doc/tuxpaint-stamps-default/copyright, "Files: *"). Each photo: the
transparent background flattened onto white, downscaled so that the longer side is at most {max_side} px,
re-encoded as JPEG quality 85.

"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stamps", type=Path, help="the extracted /usr/share/tuxpaint/stamps folder")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    lines = [HEADER.format(max_side=MAX_SIDE)]
    for category in CATEGORIES:
        for source in sorted((args.stamps / category).rglob("*.png")):
            relative = source.relative_to(args.stamps)
            if any(part in LEFT_OUT for part in relative.parts):
                continue
            with Image.open(source) as opened:
                image = opened.convert("RGBA")
            if max(image.size) < MIN_SIDE:
                continue
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(image, mask=image.getchannel("A"))
            flat.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            name = "_".join(relative.with_suffix("").parts).replace("-", "_").lower() + ".jpg"
            buffer = io.BytesIO()
            flat.save(buffer, format="JPEG", quality=85)
            (OUT / name).write_bytes(buffer.getvalue())
            lines.append(
                f"{name}  from /usr/share/tuxpaint/stamps/{relative} {image.size[0]}x{image.size[1]}\n"
            )
    (OUT / "LICENSES").write_text("".join(lines), encoding="utf-8")
    print(f"{len(lines) - 1} photos in {OUT}")


if __name__ == "__main__":
    main()
