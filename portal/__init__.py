"""The customer return portal: pages under /r/<token> (a signed link, links.py) served by the API
app, without JavaScript: start a return, the first answer, follow-up, and the withdrawal function
of contract 7.2."""
