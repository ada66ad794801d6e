"""Small statistics about a piece of text."""


def word_count(text: str) -> int:
    """How many words ``text`` holds; words are separated by any run of whitespace."""
    return len(text.split(" "))


def longest_word(text: str) -> str:
    """The longest word in ``text`` (the first one on a tie); empty for empty text."""
    words = text.split()
    return max(words, key=len) if words else ""
