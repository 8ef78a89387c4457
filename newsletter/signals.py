"""What happens to a letter, said to whoever listens above (the outer ring's webhooks).
Each signal is sent with the session as sender, inside the transaction that records it."""
from blinker import Namespace

_signals = Namespace()

# issue=Issue: the last delivery of a letter (kind letter) went out; it is in the archive.
letter_sent = _signals.signal("letter-sent")
