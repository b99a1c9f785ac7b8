"""Institution extracts: facts collected once, delivered exactly once to every institution subscribed to them."""
