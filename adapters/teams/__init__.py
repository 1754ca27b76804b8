"""Microsoft Teams through botbuilder: activities to neutral events, cards to Adaptive Cards.
Every botbuilder import stays inside this folder."""
