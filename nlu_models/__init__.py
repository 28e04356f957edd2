"""Aisle's NLU: intent classification and entity extraction, served over Rasa's NLU HTTP protocol."""
