"""Reference server "naive": the Channels tutorial chat, as a user would otherwise build it."""
