"""Model behaviour on the default model: invariance and direction tests."""

from pathlib import Path

import pytest

from model.predictor import TriageModel

pytestmark = pytest.mark.slow

TICKETS = [
    ("Hej!\nSynken till Google har inte gått sedan i fredags, inga nya elever kommer in i Classroom.\n"
     "Mvh\nAnna Lindqvist\nIT-tekniker, Exempelby kommun\nanna.lindqvist@example.se\n070-123 45 67"),
    ("Hi,\nwe would like to add our new school Björkskolan to the Google sync from August, with its own OU.\n"
     "Best regards\nJohn Berg\nIT manager\njohn.berg@example.se"),
    ("Hej,\ninloggningen via Skolfederation ger felet 'InResponseTo' för alla lärare sedan i morse.\n"
     "Med vänliga hälsningar\nFatima Hassan\nSystemförvaltare\n08-123 456 78"),
]


@pytest.fixture(scope="module")
def model(full_model_dir: Path) -> TriageModel:
    return TriageModel.load(full_model_dir)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Anna Lindqvist", "Mohammed Al-Sayed"),
        ("John Berg", "Kaisa Virtanen"),
        ("Fatima Hassan", "Per Olsson"),
        ("anna.lindqvist@example.se", "it-support@example.se"),
        ("john.berg@example.se", "j.b@example.com"),
        ("070-123 45 67", "+46 73 987 65 43"),
        ("Mvh", "Vänliga hälsningar"),
        ("Best regards", "Thanks,\n--"),
        ("IT-tekniker, Exempelby kommun", "Skolchef, Norrby kommun"),
    ],
)
def test_names_addresses_and_signatures_do_not_change_the_route(model: TriageModel, old: str, new: str) -> None:
    for ticket in TICKETS:
        if old in ticket:
            before, after = model.predict([ticket, ticket.replace(old, new)])
            assert after.route == before.route, f"replacing {old!r} by {new!r} flipped the route"
            assert abs(after.confidence - before.confidence) < 0.1, f"replacing {old!r} moved the confidence a lot"


@pytest.mark.parametrize(
    ("ticket", "addition", "towards"),
    [
        ("Hej, vi har en fråga om synken till Google.", " Vi vill lägga till en ny skola i synken.", "delivery"),
        ("Hi, a question about our Entra ID setup.", " We want to add a new school to the sync from August.", "delivery"),
        ("Hej, en fråga om synken till Google.", " Synken har slutat fungera och eleverna kommer inte in sedan i morse.", "support"),
        ("Hi, a question about our SSO.", " Since this morning nobody can log in, we get an error.", "support"),
    ],
)
def test_adding_a_request_moves_towards_its_label(model: TriageModel, ticket: str, addition: str, towards: str) -> None:
    before, after = model.predict([ticket, ticket + addition])
    assert after.probabilities[towards] > before.probabilities[towards], f"adding {addition!r} should move towards {towards}"
