"""What happens to a contribution, said to whoever listens above (the outer ring's webhooks).
Each signal is sent with the session as sender, inside the action's transaction."""
from blinker import Namespace

_signals = Namespace()

# contribution=Contribution, editor=User: an editor accepted it for a coming letter.
contribution_accepted = _signals.signal("contribution-accepted")
