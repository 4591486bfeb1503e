"""The owner of ticket documents and everything kept beside them."""
