"""The per-process memory of token holders (service/vouch.py) keeps the most recently used."""

from service.vouch import TokenMemory


def test_it_keeps_the_most_recently_used_up_to_its_limit():
    memory = TokenMemory(limit=2)
    memory.put(b"a", "holder a", 1)
    memory.put(b"b", "holder b", 1)
    assert memory.get(b"a") == ("holder a", 1)  # now the most recent
    memory.put(b"c", "holder c", 4)
    assert len(memory) == 2
    assert memory.get(b"b") is None
    assert memory.get(b"a") == ("holder a", 1)
    assert memory.get(b"c") == ("holder c", 4)


def test_a_holder_put_again_replaces_its_version_and_drop_forgets_it():
    memory = TokenMemory()
    memory.put(b"a", "holder", 1)
    memory.put(b"a", "holder", 3)
    assert memory.get(b"a") == ("holder", 3)
    memory.drop(b"a")
    memory.drop(b"never there")
    assert memory.get(b"a") is None and len(memory) == 0
