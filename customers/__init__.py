"""A customer as a whole under the GDPR: erase (Art. 17), export (Art. 15 and 20) and the
retention schedule (Art. 5(1)(e)). See docs/customer-data.md."""
