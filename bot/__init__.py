"""stripe-ops: a Slack app for support teams working on Stripe."""
