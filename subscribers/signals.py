"""What happens to a subscription, said to whoever listens above (the outer ring's webhooks).
Each signal is sent with the session as sender, inside the action's transaction."""
from blinker import Namespace

_signals = Namespace()

# subscriber=Subscriber: the double opt-in (or an import's confirmation link) was completed.
subscriber_confirmed = _signals.signal("subscriber-confirmed")
# subscriber=Subscriber, via=str ("web", "one-click", "editor", ...): every letter stops.
subscriber_unsubscribed = _signals.signal("subscriber-unsubscribed")
