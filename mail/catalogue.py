"""The sentences of the customer's messages, per locale: one template per message serves both.

Each sentence is a str.format pattern; a value put into one is escaped in the HTML part
(mail/render.py), never the pattern itself. Both locales have the same keys and the same
placeholders (tests/mail/test_catalogue.py).
"""

from __future__ import annotations

from collections.abc import Mapping

LOCALES = ("nl", "en")

NL: Mapping[str, str] = {
    # the frame
    "greeting": "Beste {name},",
    "greeting_anonymous": "Beste klant,",
    "sign_off": "Met vriendelijke groet,",
    "footer": "{shop} · {email} · retour {return_id} · bestelling {order_id}",
    "questions": "Vragen? Antwoord gewoon op deze e-mail, dan helpen we je verder.",
    # nouns for the subject lines
    "noun_return": "retour",
    "noun_warranty": "garantieaanvraag",
    "noun_mixed": "aanvraag",
    "noun_rejected": "aanvraag",
    # subjects
    "subject_case_opened": "Je {noun} {return_id}: dit hebben we nog van je nodig",
    "subject_reminder": "Herinnering: je {noun} {return_id} wacht op je",
    "subject_case_resolved": "Je {noun} {return_id} is afgehandeld",
    "subject_case_rejected": "Je aanvraag {return_id} is afgewezen",
    "subject_case_expired": "Je {noun} {return_id} is gesloten",
    "subject_inspection_failed": "Je {noun} {return_id} is na controle afgekeurd",
    # case_opened
    "opened_return": "We hebben je retouraanvraag {return_id} voor bestelling {order_id} ontvangen.",
    "opened_warranty": "We hebben je garantieaanvraag {return_id} voor bestelling {order_id} ontvangen.",
    "opened_mixed": (
        "We hebben je aanvraag {return_id} voor bestelling {order_id} ontvangen: een deel is een retour,"
        " een deel valt onder de garantie."
    ),
    "opened_rejected": "We hebben je aanvraag {return_id} voor bestelling {order_id} ontvangen.",
    "withdrawal": "We bevestigen je herroeping, ontvangen op {received}, voor: {items}.",
    "needs_intro": "Dit hebben we nog van je nodig:",
    "reminder_intro": "We wachten nog op je voor aanvraag {return_id} (bestelling {order_id}):",
    # photos
    "photos_title": "Foto's",
    "photo_item": "{item}: {instruction}.",
    "photos_how_upload": "Upload de foto's via {link}",
    "photos_how_reply": (
        "Stuur de foto's als bijlage in een antwoord op deze e-mail (aan {email}),"
        " met {return_id} in het onderwerp."
    ),
    "photos_due": "Graag uiterlijk {due}. Hebben we de foto's dan niet, dan sluiten we de aanvraag.",
    # choice
    "choice_title": "Je keuze",
    "choice_what": "Kies hoe je het wilt afhandelen: {options}.",
    "choice_how": "Antwoord op deze e-mail met je keuze.",
    "choice_due": "Kies uiterlijk {due}. Kies je niet, dan betalen we het bedrag terug via {method}.",
    "repair_choice": "Je mag kiezen tussen reparatie en vervanging: een reparatie verlengt je garantie"
    " eenmalig met {months} maanden.",
    "repair_choice_no_extension": "Je mag kiezen tussen reparatie en vervanging. Je bestelling is van vóór"
    " de nieuwe regels, dus een reparatie verlengt je garantie niet.",
    # parcel
    "parcel_title": "Het pakket",
    "parcel_what": "Stuur ons in één pakket: {items}.",
    "parcel_label": "Print het bijgevoegde retourlabel (PDF), plak het op het pakket en geef het af bij"
    " een pakketpunt. Verzenden is gratis.",
    "parcel_address": "Stuur het pakket naar het adres hieronder en zet {return_id} op het pakket:",
    "parcel_due": "Het pakket moet uiterlijk {due} bij ons binnen zijn; anders sluiten we de aanvraag.",
    "returnless": "Terugsturen is niet nodig voor: {items}. Je mag het houden of laten recyclen.",
    # what happens next
    "next_title": "Hoe het verder gaat",
    "next_inspection": "Zodra het pakket binnen is, controleren we het product binnen {days} dagen.",
    "next_refund": "Is alles in orde, dan betalen we {total} terug via {method}.",
    "next_store_credit": "Is alles in orde, dan zetten we {amount} voor je klaar als tegoed in onze winkel.",
    "next_replacement": "Is alles in orde, dan sturen we je een vervangend exemplaar van: {items}.",
    "next_repair": "Is alles in orde, dan repareren we je product en sturen we het naar je terug.",
    "next_choice": "Is alles in orde, dan handelen we het meteen af zoals je gekozen hebt.",
    "next_now": "Zodra we alles hebben, handelen we het meteen af.",
    # the quote
    "quote_title": "Het bedrag",
    "quote_gross": "Waarde van de producten: {amount}",
    "addition_withdrawal-delivery-refund": "+ {amount} bezorgkosten terug: je herroept de hele bestelling.",
    "addition_other": "+ {amount}: {explanation}",
    "deduction_gift-not-returned": "− {amount} voor het gratis '{gift}' dat niet mee terugkomt. Stuur je"
    " het mee in het pakket, dan houden we niets in.",
    "deduction_return-fee": "− {amount} retourkosten: je stuurt terug zonder dat er iets mis is met het"
    " product.",
    "deduction_other": "− {amount}: {explanation}",
    "quote_total_refund": "Je krijgt terug: {total}, via {method}.",
    "quote_total_store_credit": "Je krijgt {credit} als tegoed in onze winkel.",
    "quote_total_choice": "Bij terugbetaling of tegoed krijg je: {total}.",
    "quote_total_choice_bonus": "Bij terugbetaling krijg je {total}, als tegoed in onze winkel {credit}.",
    # resolutions by name (choices)
    "resolution_refund": "terugbetaling via {method}",
    "resolution_store_credit": "tegoed in onze winkel",
    "resolution_replacement": "een vervangend product",
    "resolution_repair": "reparatie",
    # needs by name (expiry)
    "need_photos": "de foto's",
    "need_parcel": "het pakket",
    "need_choice": "je keuze",
    "need_inspection": "de controle",
    "need_repair": "de reparatie",
    # case_resolved
    "resolved_intro": "Je aanvraag {return_id} voor bestelling {order_id} is afgehandeld.",
    "resolved_refund": "We hebben {amount} teruggestort via {method}. Afhankelijk van je bank staat het"
    " binnen een paar werkdagen op je rekening.",
    "resolved_store_credit": "We hebben {amount} als tegoed voor je klaargezet in onze winkel. Je gebruikt"
    " het bij je volgende bestelling.",
    "resolved_replacement": "We sturen je een vervangend exemplaar van: {items}. Het gaat zo snel"
    " mogelijk naar je toe.",
    "resolved_repair": "Je product is gerepareerd en komt naar je terug.",
    "resolved_guarantee": "De garantie op {item} loopt nu tot en met {until}.",
    "resolved_revoked": "De licentie van het gratis {items} is ingetrokken, omdat het product waar het"
    " bij hoorde retour is.",
    # case_rejected
    "rejected_intro": "We kunnen je aanvraag {return_id} voor bestelling {order_id} helaas niet accepteren:",
    "rejected_item": "{item}: {reason}.",
    "rule_digital-no-withdrawal": "een digitaal product kun je zonder gebrek niet retourneren",
    "rule_fault-out-of-guarantee": "de garantie is verlopen",
    "rule_preference-used": "een gebruikt product kunnen we niet terugnemen",
    "rule_preference-late": "de retourtermijn is voorbij",
    "rule_other": "niet geaccepteerd ({rule})",
    "appeal": "Ben je het er niet mee eens? Antwoord dan vóór {until} op deze e-mail; tot dan kunnen we"
    " je aanvraag alsnog accepteren.",
    # case_expired
    "expired": "We hebben {need} voor aanvraag {return_id} niet op tijd ontvangen, daarom hebben we de"
    " aanvraag gesloten.",
    "expired_again": "Wil je toch nog iets regelen? Neem dan contact met ons op via {email}.",
    # inspection_failed
    "inspection_failed": "We hebben je product voor aanvraag {return_id} gecontroleerd. Het komt helaas"
    " niet in aanmerking voor een retour of garantie.",
    "inspection_note": "Opmerking van ons magazijn: {note}",
    # photo instructions (contract 2.2), as the customer reads them
    "photo_photo-fault-electronics": "een foto van de foutmelding of van het defect",
    "photo_photo-damage": "een foto van de schade en van de buitenverpakking",
    "photo_photo-high-value": "een foto van het defect en van het serienummerlabel",
    # the label
    "label_title": "RETOURLABEL",
    "label_to": "Aan",
    "label_from": "Van",
    "label_return": "Retour",
    "label_filename": "retourlabel-{return_id}.pdf",
}

EN: Mapping[str, str] = {
    "greeting": "Dear {name},",
    "greeting_anonymous": "Dear customer,",
    "sign_off": "Kind regards,",
    "footer": "{shop} · {email} · return {return_id} · order {order_id}",
    "questions": "Any questions? Just reply to this e-mail and we will help you.",
    "noun_return": "return",
    "noun_warranty": "warranty claim",
    "noun_mixed": "request",
    "noun_rejected": "request",
    "subject_case_opened": "Your {noun} {return_id}: what we still need from you",
    "subject_reminder": "Reminder: your {noun} {return_id} is waiting for you",
    "subject_case_resolved": "Your {noun} {return_id} is settled",
    "subject_case_rejected": "Your request {return_id} was declined",
    "subject_case_expired": "Your {noun} {return_id} is closed",
    "subject_inspection_failed": "Your {noun} {return_id} did not pass inspection",
    "opened_return": "We have received your return request {return_id} for order {order_id}.",
    "opened_warranty": "We have received your warranty claim {return_id} for order {order_id}.",
    "opened_mixed": (
        "We have received your request {return_id} for order {order_id}: part of it is a return, part"
        " falls under the guarantee."
    ),
    "opened_rejected": "We have received your request {return_id} for order {order_id}.",
    "withdrawal": "We confirm your withdrawal, received on {received}, for: {items}.",
    "needs_intro": "This is what we still need from you:",
    "reminder_intro": "We are still waiting for you on request {return_id} (order {order_id}):",
    "photos_title": "Photos",
    "photo_item": "{item}: {instruction}.",
    "photos_how_upload": "Upload the photos at {link}",
    "photos_how_reply": (
        "Send the photos as attachments in a reply to this e-mail (to {email}), with {return_id} in"
        " the subject."
    ),
    "photos_due": "Please send them by {due}. If we do not have the photos by then, we close the request.",
    "choice_title": "Your choice",
    "choice_what": "Choose how you would like it settled: {options}.",
    "choice_how": "Reply to this e-mail with your choice.",
    "choice_due": "Please choose by {due}. If you do not choose, we refund the amount via {method}.",
    "repair_choice": "You may choose between repair and replacement: a repair extends your guarantee once"
    " by {months} months.",
    "repair_choice_no_extension": "You may choose between repair and replacement. Your order predates the"
    " new rules, so a repair does not extend your guarantee.",
    "parcel_title": "The parcel",
    "parcel_what": "Send us in one parcel: {items}.",
    "parcel_label": "Print the attached return label (PDF), stick it on the parcel and drop it off at a"
    " parcel point. Shipping is free.",
    "parcel_address": "Send the parcel to the address below and write {return_id} on it:",
    "parcel_due": "The parcel must reach us by {due}; otherwise we close the request.",
    "returnless": "No need to send back: {items}. You may keep or recycle it.",
    "next_title": "What happens next",
    "next_inspection": "Once the parcel arrives, we inspect the product within {days} days.",
    "next_refund": "When everything is in order, we refund {total} via {method}.",
    "next_store_credit": "When everything is in order, we add {amount} to your store credit.",
    "next_replacement": "When everything is in order, we send you a replacement for: {items}.",
    "next_repair": "When everything is in order, we repair your product and send it back to you.",
    "next_choice": "When everything is in order, we settle it straight away as you chose.",
    "next_now": "As soon as we have everything, we settle it straight away.",
    "quote_title": "The amount",
    "quote_gross": "Value of the products: {amount}",
    "addition_withdrawal-delivery-refund": "+ {amount} delivery costs back: you withdraw from the whole"
    " order.",
    "addition_other": "+ {amount}: {explanation}",
    "deduction_gift-not-returned": "− {amount} for the free '{gift}' that is not coming back. Put it in"
    " the parcel and we deduct nothing.",
    "deduction_return-fee": "− {amount} return fee: you return the product without anything being wrong"
    " with it.",
    "deduction_other": "− {amount}: {explanation}",
    "quote_total_refund": "You get back: {total}, via {method}.",
    "quote_total_store_credit": "You get {credit} as store credit.",
    "quote_total_choice": "With a refund or store credit you get: {total}.",
    "quote_total_choice_bonus": "With a refund you get {total}, as store credit {credit}.",
    "resolution_refund": "a refund via {method}",
    "resolution_store_credit": "store credit in our shop",
    "resolution_replacement": "a replacement product",
    "resolution_repair": "a repair",
    "need_photos": "the photos",
    "need_parcel": "the parcel",
    "need_choice": "your choice",
    "need_inspection": "the inspection",
    "need_repair": "the repair",
    "resolved_intro": "Your request {return_id} for order {order_id} is settled.",
    "resolved_refund": "We have refunded {amount} via {method}. Depending on your bank it reaches your"
    " account within a few working days.",
    "resolved_store_credit": "We have added {amount} to your store credit. You can use it on your next"
    " order.",
    "resolved_replacement": "We will send you a replacement for: {items}, as soon as we can.",
    "resolved_repair": "Your product has been repaired and is on its way back to you.",
    "resolved_guarantee": "The guarantee on {item} now runs until {until}.",
    "resolved_revoked": "The licence of the free {items} has been revoked, as the product it came with"
    " was returned.",
    "rejected_intro": "Unfortunately we cannot accept your request {return_id} for order {order_id}:",
    "rejected_item": "{item}: {reason}.",
    "rule_digital-no-withdrawal": "a digital product cannot be returned without a fault",
    "rule_fault-out-of-guarantee": "the guarantee has ended",
    "rule_preference-used": "a used product cannot be taken back",
    "rule_preference-late": "the return period has passed",
    "rule_other": "not accepted ({rule})",
    "appeal": "Do you disagree? Reply to this e-mail before {until}; until then we can still accept your"
    " request.",
    "expired": "We did not receive {need} for request {return_id} in time, so we have closed the request.",
    "expired_again": "Would you still like to sort something out? Contact us at {email}.",
    "inspection_failed": "We have inspected your product for request {return_id}. Unfortunately it does"
    " not qualify for a return or for the guarantee.",
    "inspection_note": "Note from our warehouse: {note}",
    "photo_photo-fault-electronics": "a photo of the error message or of the defect",
    "photo_photo-damage": "a photo of the damage and of the outer packaging",
    "photo_photo-high-value": "a photo of the defect and of the serial-number label",
    "label_title": "RETURN LABEL",
    "label_to": "To",
    "label_from": "From",
    "label_return": "Return",
    "label_filename": "return-label-{return_id}.pdf",
}

CATALOGUE: Mapping[str, Mapping[str, str]] = {"nl": NL, "en": EN}


def sentence(locale: str, key: str) -> str:
    """The pattern of `key` in `locale` (an unknown locale reads Dutch, the default)."""
    return CATALOGUE.get(locale, NL)[key]
