"""Knowledge documents of leaves: in-tree (schema v4) or pinned to a commit of an external
repository fetched as hostile input; read as text and chunked by the teacher's tokenizer.

Light to import (validate uses it): git runs as a subprocess, pypdf loads only for a PDF.
"""

from taxon.documents.chunking import chunk_documents
from taxon.documents.leaf import check_leaf_documents, load_leaf_documents
from taxon.documents.records import Chunk, Document

__all__ = ["Chunk", "Document", "check_leaf_documents", "chunk_documents", "load_leaf_documents"]
