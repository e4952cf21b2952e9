"""Which Goodreads shelf tags name a genre, and the category each one maps to.

Shelf tags are mostly personal ("to-read", "owned", "kindle", "fiction"); only
these genre tags decide a book's category. "fiction" is left out on purpose:
nearly every novel carries it with a large count, so it would hide the genre.
"""
import unicodedata

UNCATEGORIZED = "Uncategorized"

CATEGORY_TAGS = {
    "Fantasy": ("fantasy", "urban-fantasy", "high-fantasy", "epic-fantasy", "paranormal", "magic"),
    "Science Fiction": ("science-fiction", "sci-fi", "scifi", "sf", "dystopian", "dystopia"),
    "Romance": ("romance", "chick-lit", "paranormal-romance", "historical-romance", "contemporary-romance"),
    "Mystery & Crime": ("mystery", "mysteries", "crime", "detective", "crime-fiction"),
    "Thriller": ("thriller", "thrillers", "suspense"),
    "Horror": ("horror",),
    "Historical Fiction": ("historical-fiction",),
    "Classics": ("classics", "classic", "classic-literature"),
    "Young Adult": ("young-adult", "ya", "teen"),
    "Children's": ("children", "childrens", "kids", "picture-books", "middle-grade"),
    "Non-fiction": ("non-fiction", "nonfiction"),
    "Biography & Memoir": ("biography", "biographies", "memoir", "memoirs", "autobiography",
                           "biography-memoir"),
    "Poetry": ("poetry", "poems"),
    "Graphic Novels & Comics": ("graphic-novels", "graphic-novel", "comics", "comic-books", "manga"),
    "History": ("history",),
    "Philosophy": ("philosophy",),
    "Science": ("science",),
    "Self-help": ("self-help",),
    "Religion & Spirituality": ("religion", "christian", "spirituality"),
    "Humor": ("humor", "humour", "comedy"),
    "Business": ("business",),
}

TAG_TO_CATEGORY = {tag: category for category, tags in CATEGORY_TAGS.items() for tag in tags}


def normalise_tag(name: str) -> str:
    """Tag names compared in NFKC lower case, so full-width `Ｍａｎｇａ` is `manga`."""
    return unicodedata.normalize("NFKC", name).strip().lower()


def category_for(tag_counts: dict[str, int]) -> str:
    """The category of the genre tag with the highest count; ties go to the
    category name first in alphabetical order. No genre tag → Uncategorized."""
    best = None
    for tag, count in tag_counts.items():
        category = TAG_TO_CATEGORY.get(normalise_tag(tag))
        if category is not None:
            key = (-count, category)
            if best is None or key < best:
                best = key
    return best[1] if best else UNCATEGORIZED
