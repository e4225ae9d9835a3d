"""Football's words, as members ask and reporters write them: synonyms, and the kinds of answer a
question asks for.

``expand`` adds to a question the other words of each synonym group it uses ("who's the gaffer" also
looks for "coach", "manager" and "boss"), for BM25 and for ``coverage``. ``asked_types`` tells which
kinds of answer a question asks for (a score, a date, a place, a club, a coach, a number, an age, a
time of day or a minute of the game, a sum of money, a count of what a "how many" question names, a
post on social media), in any of the languages the bot reads well; ``held_types`` which of them a
passage holds, by pattern (``2-0``, ``December 14``, ``in Qatar``, ``the 79th minute``), by the words
that carry them (``club``, ``head coach``, ``social media``) or by being an embedded tweet, and
``holds_count`` whether it gives the count asked for. ``plain`` puts a
member's words for the game as reporters write them ("gaffer" as "coach"), for the later
stages' English-only models, trained on plain English. These are
lists written for the game and measured on the tuning questions (README, "Quality"); they
are not meant to be complete.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from index.chunking import Chunk
from index.lexical import fold, strip_marks

# Each group: words and phrases (folded) a member may use for one another.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("coach", "manager", "boss", "head coach", "gaffer", "trainer", "coaching staff"),
    ("knocked out", "eliminated", "fell to", "lost to", "beaten by", "went out", "crashed out", "defeat"),
    ("beat", "defeated", "overcame", "overcoming", "knocked out", "eliminated", "won against"),
    ("psg", "paris saint-germain", "paris saint germain", "paris"),
    ("shirt", "shirts", "jersey", "jerseys", "top", "tops", "kit", "kits"),
    ("score", "scoreline", "result", "final score"),
    ("semi", "semis", "semifinal", "semifinals", "semi-final", "semi-finals", "last four"),
    ("final", "finals", "showpiece"),
    ("hug", "hugged", "embrace", "embraced", "cuddle"),
    ("tweet", "tweeted", "post", "posted", "wrote", "message"),
    ("instagram", "insta", "social media", "twitter", "online"),
    ("friend", "friends", "mate", "mates", "pal", "pals", "bro", "buddy", "friendship"),
    ("teammate", "teammates", "team-mate", "club mate", "clubmate"),
    ("console", "consoled", "comfort", "comforted", "cheer up", "consoling"),
    ("fans", "supporters", "crowd", "fanbase", "people"),
    ("sad", "upset", "gutted", "heartbroken", "down"),
    ("match", "game", "semi-final", "tie", "fixture"),
    ("morocco", "atlas lions", "moroccans", "moroccan"),
    ("france", "les bleus", "the french", "french"),
    ("mbappe", "kylian", "kyky", "km"),
    ("hakimi", "achraf"),
    ("regragui", "walid", "regs"),
    ("tunnel", "corridor", "dressing room"),
)
_GROUPS = {word: group for group in SYNONYMS for word in group}


def _any_of(phrases: Iterable[str]) -> re.Pattern[str]:
    """A pattern matching any of ``phrases`` as whole words, the longest first."""
    return re.compile(r"\b(" + "|".join(sorted(map(re.escape, phrases), key=len, reverse=True)) + r")\b")


_PHRASE = _any_of(_GROUPS)

# Members' words for the game, and the plain words reporters use, which the English-only readers of the
# later stages (trained on plain English) read instead (``plain``): "who is the atlas lions gaffer"
# is read as "who is the morocco coach".
PLAIN: dict[str, str] = {
    "gaffer": "coach",
    "boss": "coach",
    "atlas lions": "morocco",
    "les bleus": "france",
    "kyky": "mbappe",
    "regs": "regragui",
    "insta": "instagram",
    "mate": "friend",
    "mates": "friends",
    "pal": "friend",
    "pals": "friends",
    "bro": "friend",
    "buddy": "friend",
    "lads": "players",
    "gutted": "sad",
    "semis": "semi-finals",
    "last four": "semi-finals",
    "showpiece": "final",
    "tops": "shirts",
    "scoreline": "score",
    "holders": "defending champions",
    "his majesty": "the king",
}
_PLAIN = _any_of(PLAIN)


def _folded(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled to match folded text: its letters' marks stripped as ``fold`` strips them
    (an Arabic hamza too, so "أين" matches a folded "اين")."""
    return re.compile(strip_marks(pattern))


# What a question asks for, by its words (folded), in the languages the bot reads well.
ASKED: dict[str, re.Pattern[str]] = {
    "score": _folded(
        r"\b(score|scoreline|result|how many goals|goals|win by|won by|margin|how did (it|the (game|match))"
        r" end|resultat|combien de buts|buts|marcador|resultado|cuantos goles|goles|placar|quantos gols|gols"
        r"|ergebnis|endstand|wie viele tore|tore|risultato|punteggio|quanti gol|uitslag|eindstand"
        r"|hoeveel doelpunten|hoeveel goals|skor\w*|sonuc\w*|kac gol\w*)\b"
        r"|النتيجة|نتيجة|كم هدف|الأهداف|أهداف"
    ),
    "date": _folded(
        r"\b(when|what day|what date|which day|what year|which year|quand|quel jour|quelle date|quelle annee"
        r"|cuando|que dia|que fecha|quando|que data|wann|welcher tag|welches datum|che giorno|quale giorno"
        r"|che data|in che anno|wanneer|welke dag|welke datum|welk jaar|ne zaman|hangi gun\w*|hangi tarih\w*"
        r"|hangi yil\w*)\b|متى|امتى|تاريخ|أي يوم"
    ),
    "place": _folded(
        r"\b(where|which country|what country|which city|what city|which stadium|what stadium|venue|ou"
        r"|quel pays|quelle ville|quel stade|donde|que pais|que ciudad|que estadio|onde|qual pais|que pais"
        r"|qual estadio|wo|welches land|welche stadt|welches stadion|dove|quale paese|che paese|quale citta"
        r"|che citta|quale stadio|che stadio|waar|welk land|welke stad|welk stadion|nerede|nerde"
        r"|hangi ulke\w*|hangi sehir\w*|hangi stad\w*)\b|أين|وين|فين|أي بلد|أي ملعب|ملعب"
    ),
    "club": _folded(
        r"\b(club|clubs|play for|plays for|play at|club level|quel club|joue pour|jouent|equipo|juegan|clube"
        r"|jogam|verein|klub|spielen|gioca per|giocano per|gioca nel|giocano nel|speelt voor|spelen voor"
        r"|welke club|kulub\w*|kulup\w*)\b|نادي|النادي|يلعب|يلعبان"
    ),
    "coach": _folded(
        r"\b(coach|manager|boss|gaffer|trainer|head coach|who runs|entraineur|selectionneur|seleccionador"
        r"|entrenador|tecnico|treinador|selecionador|trainer|nationaltrainer|allenatore|commissario tecnico"
        r"|bondscoach|teknik direktor\w*|hoca\w*|antrenor\w*)\b|مدرب|المدرب|الركراكي"
    ),
    "number": _folded(
        r"\b(how many|how much|how far|combien|cuantos|cuantas|quantos|quantas|wie viele|wie viel|quanti"
        r"|quante|quanto|hoeveel|kac)\b|\bكم\b"
    ),
    "age": _folded(
        r"\b(how old|what age|his age|her age|their age|age of|quel age|quantos anos|cuantos anos|que edad"
        r"|wie alt|quanti anni|che eta|hoe oud|kac yas\w*)\b|كم عمر|عمره"
    ),
    "time": _folded(
        r"\b(what time|which time|kick ?off|kickoff|what minute|which minute|a quelle heure|quelle minute"
        r"|a que hora|que minuto|em que minuto|um wie viel uhr|welche minute|welcher minute|a che ora"
        r"|che minuto|a che minuto|hoe laat|welke minuut|saat kacta|kacinci dakika\w*|hangi dakika\w*)\b"
        r"|أي دقيقة|الساعة كم|كم الساعة"
    ),
    "money": _folded(
        r"\b(salary|salaries|wages?|earns?|earnings|transfer fee|fee|how much money|cost|costs|price|paid for"
        r"|pay for|salaire|combien gagne|salario|sueldo|cuanto gana|quanto ganha|gehalt|verdient|stipendio"
        r"|quanto guadagna|ingaggio|salaris|transfersom|maas\w*|bonservis\w*|ne kadar kazan\w*)\b"
        r"|راتب"
    ),
    "scorer": _folded(  # who scored: "who got the first goal", "qui a marqué", "من سجل"
        r"\b(who (scored|netted|headed)|who got (the |a |an )?(\w+ )?goals?|(goal)?scorers?"
        r"|did [\w' ]{1,30} score|who opened the scoring"
        r"|qui a (marque|ouvert le score)|buteurs?|quien (marco|anoto)|goleador(es)?|quem (marcou|fez)"
        r"|artilheir\w*|wer traf|wer hat (\w+ )?(die|das|ein) tor\w*|torschutze\w*|tore? geschossen"
        r"|chi ha segnato|marcator[ei]|wie scoorde|kim att\w*|gol atan)\b|من سجل|شكون سجل|مين سجل|هداف"
    ),
    # The match's events a report may or may not tell: the referee, cards, penalties.
    "referee": _folded(
        r"\b(referee\w*|refs?|arbitre\w*|arbitro\w*|arbitragem|schiedsrichter\w*"
        r"|scheidsrechter\w*|hakem\w*)\b|حكم المباراة|الحكم|من حكم|حكام"
    ),
    "card": _folded(
        r"\b(cards?|booked|bookings?|sent off|sending off|cartons?|tarjetas?|expulsad\w*|cartao|cartoes"
        r"|expuls\w*|karten?|platzverweis|cartellin\w*|kaart\w*|kart)\b|بطاق\w*|طرد"
    ),
    "penalty": _folded(
        r"\b(penalt\w*|penal|penales|spot ?kicks?|shoot-?outs?|tirs? au but|elfmeter\w*|rigor\w*"
        r"|strafschop\w*)\b|ركلة جزاء|ركلات الترجيح|ركلة الترجيح|ضربة جزاء"
    ),
    "stadium": _folded(
        r"\b(stadium|stadiums|venue|arena|stade|estadio|stadion|stadio|stadyum\w*)\b|ملعب|الملعب|استاد"
    ),
    "stats": _folded(  # the match's statistics: possession, shots, corners
        r"\b(possession|shots|corners?|passes|pass accuracy|xg|expected goals|stats|statistics|tirs|tiros"
        r"|remates|corneres|posesion|posse|finalizacoes|chutes|ballbesitz|schusse|torschusse|ecken"
        r"|statistik\w*|possesso|tiri|balbezit|schoten|hoekschoppen|topla oynama|sut\w*|korner\w*"
        r"|istatistik\w*)\b|استحواذ|تسديد|ركنية|إحصائيات"
    ),
    "post": _folded(  # a post on social media: "who tweeted", "qu'a posté mbappé"
        r"\b(tweet\w*|twitter|twitt\w*|getwittert|tuit\w*|(?<!hit the )posts?|posted|postou|postado|poste"
        r"|postait|gepostet|posteo|social media|sociale media|redes sociales|redes sociais|reseaux sociaux"
        r"|sozialen medien|instagram|insta)\b|تغريد|غرد|نشر"
    ),
}
# "How many <things>": the things counted (folded), in the languages the bot reads well. A question that
# names them asks for a count of them ("count"): a passage holds it when a number comes just before them.
_COUNTED = _folded(
    r"\b(?:how many|combien de|combien d'|cuantos|cuantas|quantos|quantas|wie viele|quanti|quante|hoeveel"
    r"|kac)\s+([^\W\d_]+)"
    r"|\bكم عدد\s+(\S+)"
)
# Words after "how many" that count nothing: "how many did france score" asks for a score.
_NOT_COUNTED = frozenset({"did", "do", "does", "were", "was", "are", "is", "have", "has", "had", "of", "the"})
_NUMBER = (
    r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty"
    r"|hundreds?|thousands?|dozens?|un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|cent|mille|uno|dos"
    r"|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|um|uma|dois|duas|ein|eine|zwei|drei|vier|funf|sechs"
    r"|zehn|hundert|tausend|tre|quattro|cinque|sette|nove|dieci|cento|mila|twee|drie|vijf|zes|zeven"
    r"|acht|negen|tien|honderd|duizend|iki|uc|dort|bes|alti|yedi|sekiz|dokuz|yuz"
    r"|اثنان|اثنين|ثلاث|ثلاثة|أربع|خمس|عشر|مئات|آلاف|ألف)"
)
_A_NUMBER = _folded(rf"{_NUMBER}\W*")
# Kinds that say which number is asked for: a question asking for one of them asks for no other number.
NUMBERS = frozenset({"age", "time", "money", "count"})
# The kinds, the most specific first: of several a question asks for and no passage holds, the one named.
SPECIFIC_FIRST = (
    "age",
    "time",
    "money",
    "count",
    "post",
    "scorer",
    "referee",
    "card",
    "penalty",
    "stadium",
    "stats",
    "score",
    "date",
    "place",
    "club",
    "coach",
    "number",
)
# Month and day names (folded). "may", "march" and "mars" are also words, so they name a month only
# beside a day's number ("14 may", "march 3").
_MONTHS = (
    r"january|february|april|june|july|august|september|october|november|december|janvier|fevrier"
    r"|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre|enero|febrero|marzo|abril|mayo"
    r"|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|janeiro|fevereiro|marco|maio|junho|julho"
    r"|setembro|outubro|novembro|dezembro|januar|februar|marz|juni|juli|oktober|dezember|gennaio|febbraio"
    r"|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|januari|februari|maart|mei|augustus|ocak"
    r"|subat|mart|nisan|mayıs|haziran|temmuz|agustos|eylul|ekim|kasım|aralık"
)
_WORD_MONTHS = r"may|march|mars"
_DAYS = (
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|lundi|mardi|mercredi|jeudi|vendredi|samedi"
    r"|dimanche|lunes|martes|miercoles|jueves|viernes|sabado|domingo|segunda|terca|quarta|quinta|sexta"
    r"|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|lunedi|martedi|mercoledi|giovedi"
    r"|venerdi|domenica|maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|pazartesi|salı"
    r"|carsamba|persembe|cuma|cumartesi|pazar"
)
# What a passage holds, by pattern: read on the passage as written (its capitals and accents tell).
HELD: dict[str, re.Pattern[str]] = {
    "score": re.compile(r"(?<![\d-])\d{1,2}\s?[-–:]\s?\d{1,2}(?![\d-])"),
    "place": re.compile(
        r"\b(in|at|au|en|a|em|no|na|im)\s+(the\s+)?[A-Z][\w'’-]+|\b(stadium|stade|estadio|stadion|stadio|stadyum\w*)\b"
        r"|في\s+(قطر|الخور|ملعب)|ملعب"
    ),
    "club": re.compile(
        r"\b(club|clubs|teammates?|team-mates?|PSG|Paris Saint-Germain|FC|clube|verein|equipo)\b|نادي|زميل"
    ),
    "coach": re.compile(
        r"\b(coach|manager|boss|head coach|entraineur|entraîneur|sélectionneur|selectionneur|seleccionador"
        r"|entrenador|técnico|treinador|trainer|allenatore|commissario tecnico|bondscoach|teknik direktör)\b"
        r"|مدرب|المدرب"
    ),
    "number": re.compile(r"\d|\b(one|two|three|four|five|first|second|third)\b"),
    "age": re.compile(
        r"\b\d{1,2}[- ]years?[- ]old\b|\baged \d{1,2}\b|\bage of \d{1,2}\b"
        r"|\b\d{1,2} (ans|años|anos|Jahre|anni|jaar|yaşında)\b|\d{1,2} (عاما|سنة)"
    ),
    "time": re.compile(
        r"\b\d{1,2}[:h]\d\d\b|\b\d{1,2} ?(am|pm|GMT|CET|local time)\b|\b\d{1,3}'"
        r"|\b\d{1,3}(st|nd|rd|th|e|eme|ème|º|°|\.)?[- ]?(minute|minuto|Minute|minuut|dakika)"
        r"|\b(minute|minuto|Minute|minuut) \d{1,3}\b|\bkick-?off\b|coup d'envoi|الدقيقة \d"
    ),
    "money": re.compile(
        r"[$€£]\s?\d|\b\d+([.,]\d+)?\s?(m|bn|million|billion|euros?|dollars?|pounds?|millions?)\b"
        r"|\b(million|millions|milliards?|millones|milhões|Millionen|milioni|miljoen|milyon)\b|مليون"
    ),
    "post": re.compile(
        r"(?i)\b(social media|instagram|twitter|tweet(ed)?|posted|réseaux sociaux|redes sociales"
        r"|redes sociais|sozialen Medien)\b|pic\.twitter\.com|وسائل التواصل|تغريدة"
    ),
}
# … and read on the passage folded, as questions are read ("Décembre" as "decembre").
HELD_FOLDED: dict[str, re.Pattern[str]] = {
    "date": _folded(
        rf"\b({_MONTHS}|{_DAYS}|tonight|yesterday|on the night)\b|\b(19|20)\d\d\b"
        rf"|\b\d{{1,2}}(st|nd|rd|th|er)? ({_WORD_MONTHS})\b|\b({_WORD_MONTHS}) \d{{1,2}}\b"
        r"|يناير|ديسمبر|الأربعاء|يوم"
    ),
    "scorer": _folded(
        r"\b(scored|scores|netted|nets|headed (in|home)|opened the scoring|goal from|fired (in|home)"
        r"|a ouvert le score|a marque|a pousse dans le but|inscrit|marco|anoto|marcou|erzielte|traf|schoss"
        r"|segnato|scoorde)\b|سجل|الهدف"
    ),
    "referee": _folded(
        r"\b(referee\w*|officiat\w*|arbitre\w*|arbitr[oa]\w*|arbitragem|schiedsrichter\w*|scheidsrechter\w*"
        r"|hakem\w*)\b|حكم المباراة|الحكم|أدار المباراة"
    ),
    "card": _folded(
        r"\b(yellow cards?|red cards?|booked|bookings?|sent off|cautioned|cartons?|tarjetas?|cartao|cartoes"
        r"|cartellin\w*|gelbe karten?|rote karten?|gelb-rote|kaart\w*|kart)\b|بطاقة|البطاقة|طرد"
    ),
    "penalty": _folded(
        r"\b(penalt\w*|penales|spot-? ?kicks?|shoot-?outs?|tirs? au but|elfmeter\w*|rigor\w*|strafschop\w*)\b"
        r"|ركلة جزاء|ركلات الترجيح|ركلة الترجيح|ضربة جزاء"
    ),
    "stadium": _folded(r"\b(stadium|stade|estadio|stadion|stadio|stadyum\w*|arena)\b|ملعب|استاد"),
    "stats": _folded(
        r"\d+ ?%|\b(possession|shots?|corners?|xg|passes|tirs|tiros|remates|posesion|posse|ballbesitz"
        r"|schusse|ecken|possesso|balbezit)\b|استحواذ|تسديدة"
    ),
}


def expand(question: str) -> str:
    """``question`` (folded) with the other words of each synonym group it uses added at its end."""
    folded = fold(question)
    used = {match[1] for match in _PHRASE.finditer(folded)}
    extra = [word for word in dict.fromkeys(w for u in used for w in _GROUPS[u]) if word not in used]
    return f"{folded} {' '.join(extra)}" if extra else folded


def plain(question: str) -> str:
    """``question`` (folded) with members' words for the game replaced by the reporters' (``PLAIN``)."""
    return _PLAIN.sub(lambda match: PLAIN[match[1]], question)


def asked_types(question: str) -> frozenset[str]:
    """The kinds of answer ``question`` asks for."""
    folded = fold(question)
    kinds = frozenset(kind for kind, pattern in ASKED.items() if pattern.search(folded))
    if counted(question):
        kinds |= {"count"}
    if "stadium" in kinds:  # asks which stadium, not just where
        kinds -= {"place"}
    if "scorer" in kinds:  # asks for who scored, not the score; "how many did they score" for a number
        kinds -= {"scorer"} if kinds & ({"number"} | NUMBERS) else {"score"}
    return kinds - {"number"} if kinds & NUMBERS else kinds


def counted(question: str) -> tuple[str, ...]:
    """The stem of the thing a "how many" question counts ("how many yellow cards" → ``yell``), or
    none."""
    found = _COUNTED.search(fold(question))
    word = next((word for word in found.groups() if word), "") if found else ""
    return (_stem(word),) if word and word not in _NOT_COUNTED else ()


def holds_count(text: str, stems: tuple[str, ...]) -> bool:
    """Whether ``text`` gives a number of the things ``stems`` name: a number at most two words before
    one of them ("two yellow cards", "72,000 Moroccan fans")."""
    if not stems:
        return False
    folded = fold(text)
    for found in re.finditer(rf"(?<!\w)(?:{'|'.join(re.escape(stem) for stem in stems)})", folded):
        if any(_A_NUMBER.fullmatch(word) for word in folded[: found.start()].split()[-3:]):
            return True
    return False


def _stem(word: str) -> str:
    word = word.removeprefix("ال") if len(word) > 4 else word
    return word[:4] if len(word) > 4 else word


def held_types(chunk: Chunk) -> frozenset[str]:
    """The kinds of answer a passage holds (a tweet holds the date it was posted)."""
    folded = fold(chunk.text)
    found = {kind for kind, pattern in HELD.items() if pattern.search(chunk.text)}
    found |= {kind for kind, pattern in HELD_FOLDED.items() if pattern.search(folded)}
    if chunk.posted:
        found.add("date")
    if chunk.author:
        found.add("post")
    return frozenset(found)
