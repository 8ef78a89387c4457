"""What happens to a registration, said to whoever listens above (the outer ring's webhooks).
Each signal is sent with the session as sender, inside the action's transaction."""
from blinker import Namespace

_signals = Namespace()

# registration=Registration: its address is proven and it holds a seat or a waitlist place.
registration_created = _signals.signal("registration-created")
# registration=Registration, previous=RegistrationStatus: a live registration was cancelled.
registration_cancelled = _signals.signal("registration-cancelled")
