"""The pipeline: authenticate → price & reserve → route → call with retries → translate → settle."""
