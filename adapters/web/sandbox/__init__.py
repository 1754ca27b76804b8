"""The browser sandbox: a third chat platform, in the browser, on the same core, store,
escalation and cards as Slack and Teams, with the controls a newcomer needs to try the whole
flow in minutes (sample alerts, act as anyone, a clock to move forward, harmless stop actions).
Only ever served on loopback, and only when no chat platform is configured or SANDBOX=1."""
