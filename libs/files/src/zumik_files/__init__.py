"""Support attachments: file store, content sniffing, HAR scrubbing."""
