"""Store helpers the Zumik Support services share (MongoDB 7 and FerretDB alike)."""
