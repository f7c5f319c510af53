"""Security tests that need more than one request to see: side channels measured over many
samples, and what one persona can learn about things she may not see."""
