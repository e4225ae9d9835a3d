"""The kinds of answer a question asks for and a passage holds, and the decline's evidence that none of
the candidates holds the kind asked for."""

from __future__ import annotations

import numpy as np
import pytest

from index.chunking import Chunk
from index.fusion import evidence
from index.scores import ScoreTable
from index.vocabulary import asked_types, counted, held_types, holds_count


def chunk(text: str) -> Chunk:
    return Chunk("semi", "Semi-final", "2022-12-14", 1, 1, 0, len(text), text)


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("how old is regragui", {"age"}),
        ("wie alt ist hakimi", {"age"}),
        ("what time did the match kick off", {"time"}),
        ("a quelle minute le premier but", {"time"}),
        ("en que minuto fue el segundo gol", {"time"}),
        ("what is mbappe's salary", {"money"}),
        ("how much did psg pay for mbappe", {"money"}),  # a sum of money, not just any number
        ("qual o salario do mbappe", {"money"}),
        ("how many did france score", {"score", "number"}),
        ("how many yellow cards were there", {"count", "card"}),  # a number of yellow cards
        ("combien de spectateurs au stade", {"attendance"}),  # the crowd, not which stadium
        ("how many goals did morocco score", {"count", "score"}),
        ("من حكم المباراة", {"referee"}),  # "who refereed the match": the "كم" in "حكم" asks for no number
        ("what was the final score", {"score"}),
        ("was hakimi upset", set()),
        ("أين أقيمت المباراة", {"place"}),  # "where was the match played": its hamza is folded away
        ("في أي دقيقة سجل", {"time"}),  # "in which minute did he score"
        ("quanti anni ha hakimi", {"age", "count"}),
        ("chi è l'allenatore del marocco", {"coach"}),
        ("wanneer was de wedstrijd", {"date"}),
        ("hoeveel gele kaarten", {"count", "card"}),
        ("gab es einen elfmeter", {"penalty"}),
        ("chi era l'arbitro della partita", {"referee"}),
        ("who got booked", {"card"}),
        ("what stadium was the semi final played at", {"stadium"}),  # which stadium, not just where
        ("where was the match played", {"place"}),
        ("which team had more possession", {"stats"}),
        ("maçın skoru neydi", {"score"}),
        ("fas teknik direktörü kim", {"coach"}),
        ("who tweeted that morocco won our hearts", {"post"}),
        ("quem postou que o mbappe foi consolar o amigo", {"post"}),
        ("did morocco hit the post", {"woodwork"}),  # the goal's post, not a post on social media
        ("who scored the goals for france", {"scorer"}),  # a person, not the score
        ("qui a marqué le premier but", {"scorer"}),
        ("من سجل أهداف فرنسا", {"scorer"}),
        ("how many did france score", {"score", "number"}),  # a number, not who scored
        ("wer hat gewonnen", {"score"}),  # "who won": the result, not a scorer
        ("where was regragui born", {"birth"}),  # a birthplace, not any place
        ("où est né hakimi", {"birth"}),
        ("when does mbappe's contract end", {"contract"}),  # not any date
        ("what rating did hakimi get", {"rating"}),
        ("o mbappe bateu no poste", {"woodwork"}),  # not a post on social media
        ("who came off the bench for morocco", {"substitution"}),
        ("wer wurde eingewechselt", {"substitution"}),
        ("first sub-saharan team in the semis?", set()),  # "sub-" is no substitute
        ("did anyone get injured", {"injury"}),
        ("hakimi était-il blessé", {"injury"}),
        ("who was man of the match", {"best"}),
        ("what formation did france use", {"lineup"}),
        ("quelle était la composition du maroc", {"lineup"}),
        ("what channel was the game on", {"broadcast"}),
        ("where can i watch the match", {"broadcast"}),  # a channel, not a place
        ("was it raining", {"weather"}),
        ("who set up the first goal", {"assist"}),  # a player, not the score
        ("من صنع الهدف الثاني", {"assist"}),
        ("kim asist yaptı", {"assist"}),
        ("quién dio la asistencia del segundo gol", {"assist"}),
        ("cuántos asistentes hubo en el estadio", {"count"}),  # attendees, not an assist
        ("was a goal ruled out by var", {"var"}),
        ("penaltı var mıydı", {"penalty"}),  # Turkish "var mı", "was there", is no VAR
        ("gab es verlängerung", {"extra_time"}),
        ("did mbappe walk round the stadium with hakimi", set()),  # asks for no stadium's name
        ("wie heißt das stadion", {"stadium"}),
        ("fransa direkt finale mi çıktı", set()),  # "direkt" is no goalpost ("direk")
        ("who was morocco coach before regragui", {"former"}),  # a predecessor, not the coach
        ("who will france play in the final", {"next"}),
        ("fransa finalde kime karşı oynadı", {"next"}),  # Turkish "ı" is kept by folding
        ("who does hakimi play for", {"club"}),  # a club, not the next opponent
        ("qui est le capitaine du maroc", {"captain"}),
        ("what number does hakimi wear", {"shirt_number"}),
        ("how much does mbappe weigh", {"height"}),  # a weight, not any number
        ("is hakimi married", {"family"}),
        ("who won france or morocco", {"score"}),  # the match's result
        ("quien gano el partido", {"score"}),
        ("hat marokko gewonnen?", {"score"}),
        ("who won the golden ball", set()),  # another prize, not the match
        ("who won the other semi final", {"next"}),  # another match, which a report of this one may not tell
        ("qui a gagné la finale", {"next"}),  # the final, not this match
        ("where is the final", {"next"}),  # the final's place, not any place
        ("who will morocco play for third place", {"next"}),  # an opponent, not a club
        ("wer wurde weltmeister 2022", {"next"}),
        ("who is hakimi", {"role"}),  # who a named person is
        ("what nationality is mbappe", {"role"}),
        ("qui est regragui ?", {"role"}),
        ("who is the best player in the world", set()),  # a person by what they are, not the reverse
        ("who is morocco's coach", {"coach"}),
        ("who was in goal for morocco", {"goalkeeper"}),
        ("bounou a fait des arrêts ?", {"goalkeeper"}),
        ("how many fouls were there", {"count", "fouls"}),
        ("what was the score at half time", {"halftime"}),  # the half-time's, not the final score
        ("le maroc a dominé la 2e mi temps ?", {"halftime"}),
        ("what was the attendance", {"attendance"}),
        ("how many spectators were there", {"attendance"}),  # the crowd's size, not any count
        ("have france and morocco played each other before", {"history"}),
        ("were there riots in brussels after the game", {"trouble"}),
        ("gab es ausschreitungen nach dem spiel", {"trouble"}),
        ("what were the odds on morocco", {"betting"}),
        ("was morocco popular with the fans", set()),  # the fans' hearts, not the crowd's size
        ("كم عدد المتفرجين في الملعب", {"attendance"}),  # the crowd in the stadium, not where it is
        ("le deuxieme but c'est qui", {"scorer"}),
        ("kolo muani il est rentré quand", {"substitution"}),  # when he came on: a minute, not a date
        ("when did mbappe score", {"time"}),  # a minute of the game, not a date or the score
        ("كولو مواني سجل امتى", {"time"}),
        ("when did mbappe post the message", {"date", "post"}),  # a post's date: a date
    ],
)
def test_the_kind_of_answer_a_question_asks_for(question: str, kinds: set[str]) -> None:
    assert asked_types(question) == kinds


@pytest.mark.parametrize(
    ("text", "held", "not_held"),
    [
        ("Theo Hernandez scored in the 5th minute.", "time", "money"),
        ("Dès la 5e minute, Theo Hernandez a ouvert le score.", "time", "age"),
        ("Kolo Muani scored in der 79. Minute.", "time", "age"),
        ("The match kicked off at 8pm local time.", "time", "money"),
        ("The 24-year-old wept at full time.", "age", "money"),
        ("PSG paid €180m for him in 2018.", "money", "age"),
        ("He signed for 180 million euros.", "money", "time"),
        ("They fell to France in a hard fought 2-0 loss.", "score", "time"),
        ("Mercredi 14 décembre, au stade Al Bayt.", "date", "money"),  # read folded, accent and capital
        ("The semi-final was played on December 14.", "date", "money"),
        ("It kicked off on 14 May.", "date", "money"),
        ("This Morocco team may have lost 2-0.", "score", "date"),  # "may" names no month here
        ("He shared a message of comfort via his social media channels.", "post", "date"),
        ("Dès la 5e minute, Theo Hernandez a ouvert le score.", "scorer", "score"),
        ("They fell to France in a hard fought 2-0 loss.", "score", "scorer"),  # a score, no scorer
        ("Hakimi scored the decisive penalty against Spain.", "penalty", "card"),
        ("وسجل أشرف حكيمي ركلة الترجيح الحاسمة ضد إسبانيا", "penalty", "referee"),
        ("Hakimi was booked in the first half.", "card", "penalty"),
        ("Mercredi 14 décembre, au stade Al Bayt d'Al Khor.", "stadium", "stats"),
        ("Morocco had 62% of the possession.", "stats", "stadium"),
        ("They met at the Al Bayt Stadium in Al Khor.", "stadium", "stats"),
        ("Hakimi, born in Madrid, chose Morocco.", "birth", "contract"),
        ("His contract runs until 2025.", "contract", "birth"),
        ("El Yamiq's overhead kick hit the post.", "woodwork", "post"),
        ("Kolo Muani came on for Dembele and scored.", "substitution", "injury"),
        ("Saiss limped off injured after 21 minutes.", "injury", "substitution"),
        ("The match was broadcast live on BBC One.", "broadcast", "weather"),
        ("Fans sang in the rain.", "weather", "broadcast"),
        ("Morocco lined up in a 4-3-3.", "lineup", "rating"),
        ("Griezmann set up both goals.", "assist", "var"),
        ("The goal stood after a VAR check for offside.", "var", "assist"),
        ("The game went to extra time.", "extra_time", "best"),
        ("Hakimi was named man of the match.", "best", "extra_time"),
        ("Mbappe's rating: 8/10.", "rating", "lineup"),
        ("Ils affronteront l'Argentine dimanche.", "next", "family"),
        ("Le Maroc jouera samedi le match pour la troisième place contre la Croatie.", "next", "family"),
        ("Regragui took over from Vahid Halilhodzic in August.", "former", "captain"),
        ("Saiss, Morocco's captain, went off early.", "captain", "family"),
        ("Hakimi, who wears number 2, ran to him.", "shirt_number", "height"),
        ("At 1.78 m he is no giant.", "height", "shirt_number"),
        ("Hakimi kissed his mother in the stands.", "family", "next"),
        ("The African nation's star player Achraf Hakimi wept.", "role", "family"),
        ("It was apparent to the French sensation.", "role", "captain"),
        ("وافتتح الظهير الفرنسي ثيو هيرنانديز التسجيل", "role", "family"),
        ("The pair were inseparable on the night.", "date", "role"),
        ("Mbappe ran to his close friend and Paris Saint-Germain teammate.", "club", "family"),
        ("He joined Manchester United in 2003.", "club", "family"),
        ("فهما زميلان في نادي باريس سان جيرمان", "club", "family"),
        ("Bounou made three fine saves before the break.", "goalkeeper", "fouls"),
        ("Griezmann's free kick was headed away.", "fouls", "goalkeeper"),
        ("En seconde période, ils ont souvent eu le ballon.", "halftime", "attendance"),
        ("A crowd of 68,294 watched at Al Bayt.", "attendance", "halftime"),
        ("The sides had met only once before, in a 2007 friendly.", "history", "trouble"),
        ("Police made arrests in Brussels after the match.", "trouble", "history"),
        ("Morocco were 5/1 with the bookmakers.", "betting", "trouble"),
    ],
)
def test_what_a_passage_holds_by_pattern(text: str, held: str, not_held: str) -> None:
    kinds = held_types(chunk(text))
    assert held in kinds
    assert not_held not in kinds


@pytest.mark.parametrize(
    ("text", "not_held"),
    [
        ("The duo walked around the stadium, accepting praise from both sets of fans.", "stadium"),
        ("He shared a message of comfort via his social media channels.", "broadcast"),
        ("Mbappé a publié un message de réconfort pour son ami.", "family"),  # "son" is "his"
        ("ثم أضاف البديل الهدف الثاني أمام الجماهير", "family"),  # "أمام" ("before") is no "أم" ("mother")
        ("He was spotted with his Moroccan club teammate on a day off.", "club"),  # which club?
        ("Mbappe went over to console his good friend and teammate Achraf Hakimi.", "club"),
        ("The duo walked around the stadium, accepting praise from both sets of fans.", "attendance"),
        ("He is certain the players have made the entire world take notice.", "history"),
    ],
)
def test_a_word_that_names_no_such_thing_holds_no_kind(text: str, not_held: str) -> None:
    assert not_held not in held_types(chunk(text))


def test_an_embedded_tweet_holds_a_post_and_its_date() -> None:
    tweet = Chunk(
        "semi",
        "Semi-final",
        "2022-12-14",
        1,
        1,
        0,
        10,
        "Mbappe went straight over to console Hakimi.",
        author="Ben Jacobs (@JacobsBen)",
        posted="December 14, 2022",
    )
    assert {"post", "date"} <= held_types(tweet)
    assert "post" not in held_types(chunk("Mbappe went straight over to console Hakimi."))


@pytest.mark.parametrize(
    ("question", "text", "held"),
    [
        ("how many yellow cards were there", "Two yellow cards were shown before the break.", True),
        ("how many morocco fans were in qatar", "More than 40,000 Moroccan fans filled the stadium.", True),
        ("combien de spectateurs au stade", "Plus de 68 000 spectateurs ont assisté au match.", True),
        ("how many morocco fans were in qatar", "Morocco won the hearts of the global fanbase.", False),
        ("how many yellow cards were there", "They fell to France in a hard fought 2-0 loss.", False),
        ("how many times have france won the world cup", "a final for a second consecutive time", False),
    ],
)
def test_a_passage_holds_a_count_when_a_number_comes_just_before_what_is_counted(
    question: str, text: str, held: bool
) -> None:
    assert holds_count(text, counted(question)) is held


def scored(answer_type: list[float] | None) -> ScoreTable:
    columns = {"sentence": np.array([0.9, 0.5, 0.2], np.float32)}
    if answer_type is not None:
        columns["answer_type"] = np.array(answer_type, np.float32)
    return ScoreTable(np.arange(3), columns, "en")


@pytest.mark.parametrize(
    ("answer_type", "unheld"),
    [
        ([0.0, 0.0, 0.0], 1.0),  # asks for an age, say, and no candidate holds one
        ([0.0, 1.0, 0.0], 0.0),  # one candidate holds it, even if not the best
        (None, 0.0),  # asks for no kind of answer: nothing to miss
    ],
)
def test_the_decline_knows_when_no_candidate_holds_the_kind_of_answer_asked_for(
    answer_type: list[float] | None, unheld: float
) -> None:
    scores = np.array([0.9, 0.5, 0.2])
    assert evidence(scored(answer_type), np.arange(3), scores)["unheld"] == unheld
