"""The API's endpoints, one module per concern: predictions, the model, health, administration."""
