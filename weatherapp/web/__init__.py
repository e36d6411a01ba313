"""What people and their programs see: pages, forms, the SVG chart, the JSON
API and its OpenAPI document, the admin, rate limits."""
