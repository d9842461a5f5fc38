"""Uploads a file with tuspy, the tus project's Python client, and prints
what it did as one JSON object: the upload URL and the offset reached.

    tus_upload.py FILE --token TOKEN (--endpoint URL | --url UPLOAD_URL)
                  [--chunk BYTES] [--title T] [--visibility V] [--stop-at BYTES]

With --endpoint a new upload is created there (title and visibility as
Upload-Metadata); with --url an existing upload is resumed from the offset
its HEAD reports. Every PATCH carries a sha1 Upload-Checksum."""

import argparse
import json
import os

from tusclient import client


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--token", required=True)
    parser.add_argument("--endpoint")
    parser.add_argument("--url")
    parser.add_argument("--chunk", type=int, default=1 << 20)
    parser.add_argument("--title", default="uploaded with tuspy")
    parser.add_argument("--visibility", default="public")
    parser.add_argument("--stop-at", type=int)
    args = parser.parse_args()

    tus = client.TusClient(
        args.endpoint or args.url,
        headers={"Authorization": f"Bearer {args.token}"},
    )
    uploader = tus.uploader(
        args.file,
        url=args.url,
        chunk_size=args.chunk,
        metadata={
            "title": args.title,
            "visibility": args.visibility,
            "filename": os.path.basename(args.file),
        },
        upload_checksum=True,
    )
    start = uploader.offset
    uploader.upload(stop_at=args.stop_at)
    print(json.dumps({"url": uploader.url, "started_at": start, "offset": uploader.offset}))


if __name__ == "__main__":
    main()
