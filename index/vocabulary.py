"""Football's words, as members ask and reporters write them: synonyms, and the kinds of answer a
question asks for.

``expand`` adds to a question the other words of each synonym group it uses ("who's the gaffer" also
looks for "coach", "manager" and "boss"), for BM25 and for ``coverage``. ``asked_types`` tells which
kinds of answer a question asks for (a score, a date, a place, a club, a coach, a number, an age, a
time of day or a minute of the game, a sum of money, a count of what a "how many" question names, a
post on social media, who scored, a stadium's name, a birthplace, a substitution, who a person is, the
weather: forty-four kinds, ``SPECIFIC_FIRST``), in any of the languages the bot reads well;
``held_types`` which of them a passage holds, by pattern (``2-0``, ``December 14``, ``in Qatar``,
``the 79th minute``), by the words that carry them (``club``, ``head coach``, ``social media``) or by
being an embedded tweet, and ``holds_count`` whether it gives the count asked for. ``plain`` puts a
member's words for the game as reporters write them ("gaffer" as "coach"), for the later stages'
English-only models, trained on plain English. These are lists written for the game and measured on
the tuning questions (README, "Quality"); they are not meant to be complete.
"""

from __future__ import annotations

import hashlib
import json
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
    ("holders", "title holders", "defending champions", "reigning champions", "world champions"),
)
_GROUPS = {word: group for group in SYNONYMS for word in group}


def synonyms_version() -> str:
    """A digest of ``SYNONYMS``, kept in an index's manifest: each passage's terms are saved with its
    words' synonyms (``index.store.Lexical``), so an index saved with other groups has them built again."""
    return hashlib.sha256(json.dumps(SYNONYMS).encode("utf-8")).hexdigest()[:16]


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


# Extra or added time, asked for and held by the same words.
_EXTRA_TIME = _folded(
    r"\b(extra[- ]time|overtime|prolongations?|prorroga|prorrogacao|verlangerung|supplementari"
    r"|verlenging|uzatma\w*|stoppage time|injury time|added time|temps additionnel|descuento"
    r"|tiempo anadido|acrescimos|nachspielzeit|recupero|blessuretijd)\b"
    r"|الوقت الإضافي|وقت إضافي|الأشواط الإضافية|بدل الضائع"
)

# What a question asks for, by its words (folded), in the languages the bot reads well.
ASKED: dict[str, re.Pattern[str]] = {
    "score": _folded(
        r"\b(score|scoreline|result|how many goals|goals|win by|won by|margin|how did (it|the (game|match))"
        r" end|resultat|combien de buts|buts|marcador|resultado|cuantos goles|goles|placar|quantos gols|gols"
        r"|ergebnis|endstand|wie viele tore|tore|risultato|punteggio|quanti gol|uitslag|eindstand"
        r"|hoeveel doelpunten|hoeveel goals|skor\w*|sonuc\w*|kac gol\w*)\b"
        r"|النتيجة|نتيجة|كم هدف|الأهداف|أهداف"
        # Who won the match itself, named by its two sides or as the game, or a question ending on "win":
        # the result. Not "who won the golden ball", "the final" or "the other semi".
        r"|\b(who won (between )?[\w']+ (or|vs|v|versus|against|and) [\w']+"
        r"|who won (the |this |that |today'?s |tonight'?s )?(game|match|semi|semi ?-?final|semifinal)s?\b"
        r"|qui a gagne (entre|le match|la demi)|qui l'a emporte|quien gano (entre|el partido|la semi)"
        r"|quem ganhou (entre|o jogo|a partida|a semi)|wer hat (das spiel |das halbfinale )?gewonnen"
        r"|wie (ist|endete) das spiel|chi ha vinto (tra|la partita|la semi)"
        r"|wie (heeft|won) (de wedstrijd|er gewonnen))"
        r"|\b(won|win|gagne|gano|ganhou|gewonnen|vinto|kazandi)\W*$"
        r"|من فاز (في المباراة|بالمباراة|بين)"
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
        r"|(premier|1er|deuxieme|2e|2eme|second|dernier) but,? c'?est qui|c'?est qui (qui a marque|le buteur)"
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
    "stadium": _folded(  # which stadium: "walked around the stadium" asks for none
        r"\b((what|which) (stadium|venue|arena|ground)|venue|(name of|called) the stadium|stadium('?s)? name"
        r"|quel stade|nom du stade|que estadio|cual estadio|nombre del estadio|qual estadio|nome do estadio"
        r"|welche[ms]? stadion|wie heisst das stadion|quale stadio|che stadio|nome dello stadio|welk stadion"
        r"|hangi stad\w*|stadyumun adi)\b|أي ملعب|اسم الملعب|أي استاد"
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
    # More of the match, and of its people, a report may or may not tell.
    "birth": _folded(
        r"\b(born|birthplace|birth ?place|birthday|date of birth|place of birth|hometown|est nee?|ne ou"
        r"|nee ou"
        r"|lieu de naissance|date de naissance|nacio|nacido|nacida|lugar de nacimiento|fecha de nacimiento"
        r"|nasceu|nascido|nascida|naturalidade|geboren|geburtsort|geburtstag|nato|nata|nascita"
        r"|geboorteplaats|dogdu|dogum\w*)\b|ولد|مولود|مسقط رأس"
    ),
    "contract": _folded(
        r"\b(contracts?|contrat|contrats|contrato|contratos|vertrag\w*|contratto|contratti|sozlesme\w*"
        r"|signed until|deal until)\b|عقد"
    ),
    "rating": _folded(
        r"\b(ratings?|rated|marks? out of|out of (10|ten)|quelle note|welche note|note (sur|de|von)|que nota"
        r"|qual (foi a )?nota|nota de|notas de|calificacion\w*|bewertung\w*|pagell\w*|che voto|voto|voti"
        r"|rapportcijfer\w*|welk cijfer|cijfer\w*|kac puan|puani|reyting)\b|تقييم"
    ),
    "woodwork": _folded(
        r"\b(hit the (post|bar|crossbar|woodwork|upright)|crossbar|woodwork|poteau|poteaux|transversale"
        r"|larguero|(el|al|en el|il) palo|(o|no) poste|na trave|travessao|pfosten|(die|der) latte|traversa"
        r"|de (paal|lat)|direk(ten|e)?|direge)\b|القائم|العارضة"
    ),
    "substitution": _folded(
        r"\b(subs?(?!-)|subbed|substitut\w*|came on|came off|brought on|taken off|off the bench|replaced"
        r"|remplac\w*|entre en jeu|est rentre|rentre quand"
        r"|cambios?|sustitu\w*|suplentes?|substitu\w*|eingewechselt|ausgewechselt|einwechsl\w*"
        r"|auswechsl\w*|wechsel\w*|sostitu\w*|cambi|subentrat\w*|wissel\w*|ingevallen|invaller\w*"
        r"|oyuncu degisikli\w*|oyundan çık\w*|oyuna gir\w*|yedek\w*)\b|تبديل|تبديلات|بديل|استبدال"
    ),
    "injury": _folded(
        r"\b(injur\w*|fit to play|fitness|limp\w*|blesse\w*|blessure\w*|lesion\w*|lesionad\w*|lesao|lesoes"
        r"|machucad\w*|contundid\w*|verletz\w*|infortun\w*|geblesseerd|sakat\w*|ill|illness|sick|virus"
        r"|flu)\b|إصاب\w*|مصاب"
    ),
    "best": _folded(  # the man of the match
        r"\b(man of the match|player of the match|motm|homme du match|jugador del partido"
        r"|hombre del partido|homem do jogo|craque do jogo|spieler des spiels|mann des spiels|uomo partita"
        r"|migliore in campo|man van de wedstrijd|maçın oyuncusu|maçın adamı)\b|رجل المباراة"
    ),
    "lineup": _folded(
        r"\b(line-?ups?|starting (eleven|xi|11|line-?up)|formation|who started|started the (game|match)"
        r"|composition|titulaires?|le onze|alineacion\w*|once inicial|titulares?|escalacao|time titular"
        r"|aufstellung\w*|startelf|formazione|titolar\w*|opstelling|basiself|ilk (11|on bir)|kadro\w*)\b"
        r"|تشكيل\w*|التشكيلة"
    ),
    "broadcast": _folded(
        r"\b((what|which) channel|on tv|tv|television|watch (it|the game|the match|online|live)"
        r"|where (can|could) i watch|stream\w*|broadcast\w*|chaine|a la tele|diffus\w*|canal|retransmi\w*"
        r"|transmitid\w*|fernseh\w*|ubertrag\w*|welcher sender|canale|in tv|diretta|trasmess\w*|zender"
        r"|uitgezonden|op tv|kanal\w*|yayın\w*)\b|قناة|القناة|بث"
    ),
    "weather": _folded(
        r"\b(weather|rain\w*|temperature|humid\w*|meteo|pluie|pleuvait|chaleur|lluvia|llovio|llovia"
        r"|que tiempo hizo|chuva|chovia|wetter|regen|regnete|hitze|pioggia|pioveva|het weer|regende"
        r"|hava durumu|hava nasıl\w*|yagmur\w*|sıcaklık)\b|الطقس|مطر|حرارة"
    ),
    "assist": _folded(
        r"\b(assists?|assisted|set up (the |a )?(\w+ )?goal|teed up|provided the|passe decisive|passeur"
        r"|(dio|hizo|la) asistencia|asistio|(deu|fez|a) assistencia|assistiu|garcom|vorlage\w*|vorbereitet"
        r"|vorgelegt|assist-man|asist(i|ini|ler|yap\w*)?)\b|صناعة|صنع|تمريرة حاسمة"
    ),
    "var": _folded(  # the video assistant referee, offside
        r"\b((the )?var(?!\s+m)|video assistant|offside\w*|hors-?jeu|fuera de juego|impedimento|abseits"
        r"|videobeweis|fuorigioco|buitenspel|ofsayt)\b|تسلل|الفار"
    ),
    "extra_time": _EXTRA_TIME,
    "next": _folded(  # the next match and its opponent, which a report of this one may name
        r"\b(who (will|do|does|are|is) (\w+ ){1,3}(play|face|meet|playing|facing|meeting)(?! for| at)"
        r"|next (match|game|opponents?|round)|final opponents?|opponents? in the final|who is in the final"
        r"|contre qui (\w+ ){0,3}(jouer\w*|joue\w*|affronte\w*)|prochain (match|adversaire)"
        r"|adversaire en finale"
        r"|contra quien (\w+ ){0,3}(juega\w*|jugara\w*|jugar|enfrenta\w*)|proximo (partido"
        r"|rival)|rival en la final"
        r"|contra quem (\w+ ){0,3}(joga\w*|jogara\w*|jogar|enfrenta\w*)|proximo (jogo|adversario)"
        r"|gegen wen (\w+ ){0,3}(spielt|spielen|trifft|treffen)|nachste[nrs]? (spiel|gegner)|finalgegner"
        r"|contro chi (\w+ ){0,3}(gioca\w*|giochera\w*|affronta\w*)|prossim[ao] (partita|avversari[oa])"
        r"|tegen wie (\w+ ){0,3}(speelt|spelen|spelen)|volgende (wedstrijd|tegenstander)"
        r"|kime karşı|sonraki mac\w*|rakib\w*)\b|ضد من|من سيواجه|المباراة القادمة|الخصم"
        # the final itself (its day, place or winner), the world cup's winner, the match for third place
        # and the other semi-final: matches a report of this one may not tell of
        r"|\b((when|where|what time) (is|was|will be|does|did) the (world cup )?final"
        r"|who won the (world cup )?final|who won the world cup( in)? 2022|third[- ]place|3rd place"
        r"|other semi\w*|quand (est|a lieu|se joue) la finale|ou (est|a lieu|se joue) la finale"
        r"|qui a gagne (la finale|la coupe du monde)|petite finale|l'autre demi\w*"
        r"|cuando es la final|donde (es|se juega) la final|quien gano (la final|el mundial)|tercer puesto"
        r"|la otra semi\w*|quando e a final|onde (e|sera) a final|quem ganhou (a final|a copa)"
        r"|terceiro lugar|a outra semi\w*|wann ist das finale|wo ist das finale|wer hat das finale gewonnen"
        r"|wer wurde weltmeister|spiel um platz (drei|3)|(das )?andere halbfinale|chi ha vinto la finale"
        r"|finalina|l'altra semifinale)\b|متى النهائي|أين النهائي|من فاز بالنهائي|من فاز بكأس العالم"
        r"|المركز الثالث"
    ),
    "former": _folded(  # who held a role before: "who was morocco coach before regragui"
        r"\b((coach|manager|captain|boss|trainer) before|before (him|he took over)|predecessor"
        r"|previous (coach|manager|captain)|former (coach|manager|captain)|predecesseur|ancien (entraineur"
        r"|selectionneur)|avant lui|antecesor|entrenador anterior|antes de el"
        r"|treinador anterior|antecessor|vorganger|vorher trainer|davor trainer|predecessore"
        r"|allenatore precedente"
        r"|voorganger|vorige (trainer|coach)|onceki (hoca|teknik direktor|antrenor)\w*|selef\w*)\b"
        r"|المدرب السابق|سلف"
    ),
    "captain": _folded(
        r"\b(captain\w*|skipper|armband|capitaine|brassard|capitan\w*|capitao|brazalete|braçadeira"
        r"|bracadeira|kapitan\w*|kapitaen|spielfuhrer|capitano|aanvoerder|kaptan\w*)\b|قائد|شارة"
    ),
    "shirt_number": _folded(
        r"\b(shirt number|jersey number|squad number|what number does|which number does|numero de maillot"
        r"|quel numero|numero de camiseta|dorsal|que numero|numero da camisa|qual numero|ruckennummer"
        r"|welche nummer|numero di maglia|che numero|rugnummer|welk nummer|forma numara\w*|kac numara)\b"
        r"|رقم قميص|أي رقم"
    ),
    "height": _folded(
        r"\b(how tall|his height|her height|height of|how much does \w+ weigh|quelle taille|combien mesure"
        r"|que altura|cuanto mide|qual (a )?altura|quanto mede|wie schwer|quanto e alto|quanto pesa"
        r"|hoe lang is|boyu kac|kac kilo)\b|كم طول|طوله"
    ),
    # Who a named person is, what they play as, where from: "who is hakimi", "qui est regragui", "what
    # nationality is mbappe". Not "who is the best player" or "who is morocco's coach" (a person by role).
    "role": _folded(
        r"\b(who is|who's|whos|who was|qui est|c'est qui|c qui|quien es|quem e|wer ist|wer war|chi e|wie is"
        r"|wie was) (?!(the|a|an|his|her|their|this|that|it|he|she|le|la|les|el|o|der|die|das|il|de)\b)"
        r"[\w-]+( [\w-]+)?\W*$"
        r"|\b(what|which) nationality|\b(what|which) (kind|type|sort) of player|\bwhat position does"
        r"|\bquelle nationalite|\bque nacionalidad|\bqual (a )?nacionalidade|\bwelche nationalitat"
        r"|^من (هو|هي) \S+( \S+)?\W*$"
    ),
    "family": _folded(
        r"\b(wife|girlfriend|married|children|kids|his son|his daughter|his father|his mother|his parents"
        r"|femme de|epouse|copine|enfants|sa mere|son pere|esposa|novia|hijos|su madre|su padre|mulher de"
        r"|namorada|filhos|sua mae|seu pai|ehefrau|freundin|kinder|seine mutter|sein vater|moglie"
        r"|fidanzata|figli|sua madre|suo padre|vrouw van|vriendin|kinderen|zijn moeder|zijn vader|esi kim"
        r"|kız arkadaşı|cocuk\w*|annesi|babası)\b|زوجة|زوجته|أمه|والدته|أبوه|والده|أطفاله"
    ),
    # More that members ask of a match and a report may not tell: the keepers, the fouls, the half-time,
    # the crowd's size, the sides' earlier meetings, trouble in the streets, the betting.
    "goalkeeper": _folded(
        r"\b(goal-?keepers?|keepers?|goalies?|saves|clean sheets?|in goal|gardiens?( de but)?|arrets"
        r"|portero|porteros|arquero|guardameta|paradas|goleiro|goleiros|defesas|torwart|torhuter|paraden"
        r"|portiere|parate|doelman|reddingen|kaleci\w*|kurtaris\w*)\b|حارس المرمى|حارس مرمى|تصدي\w*"
    ),
    "fouls": _folded(
        r"\b(fouls?|fouled|free-? ?kicks?|fautes?|coups? francs?|faltas|tiros? libres?"
        r"|freisto\w*|punizion\w*|falli|overtreding\w*|vrije trap\w*|faul\w*|serbest vurus\w*)\b"
        r"|ضربة حرة|الأخطاء|أخطاء"
    ),
    "halftime": _folded(
        r"\b(half-? ?time|first half|second half|1st half|2nd half|at the break|mi-? ?temps|premiere periode"
        r"|seconde periode|primer tiempo|segundo tiempo|descanso|entretiempo|primeiro tempo|intervalo"
        r"|halbzeit\w*|(ersten|zweiten) halfte|primo tempo|secondo tempo|intervallo|rust|eerste helft"
        r"|tweede helft|ilk yari|ikinci yari|devre arasi)\b|الشوط الأول|الشوط الثاني|بين الشوطين"
    ),
    "attendance": _folded(
        r"\b(attendance|attended|spectators|sold-? ?out|sell-? ?out|capacity crowd|affluence|spectateurs"
        r"|espectadores|aficionados en el estadio|torcedores no estadio|zuschauer\w*|ausverkauft|spettatori"
        r"|toeschouwers|uitverkocht|seyirci\w*)\b|الحضور الجماهيري|المتفرجين|متفرج"
    ),
    "history": _folded(
        r"\b(head-? ?to-? ?head|h2h|previous meetings?|met before|played each other"
        r"|last time they (met|played)|times have they (met|played)|record against"
        r"|confrontations? directes?|deja affronte\w*"
        r"|enfrentamientos|historial|confrontos|ja se enfrentaram|direktvergleich|bilanz gegen"
        r"|schon gegeneinander|precedenti|onderlinge|aralarindaki mac\w*)\b|المواجهات السابقة|مواجهات سابقة"
    ),
    "trouble": _folded(
        r"\b(riots?|rioting|rioters|clashes|violence|arrests?|arrested|police|unrest|hooligan\w*|emeutes?"
        r"|violences|affrontements|interpellations?|policiers|disturbios|altercados|detenidos|policia"
        r"|tumultos|confrontos com|presos|krawall\w*|ausschreitungen|randale|festnahmen|polizei|scontri"
        r"|disordini|arresti|polizia|rellen|relschoppers|politie|olaylar|polis|arbede)\b"
        r"|شغب|اعتقال|الشرطة|اشتباكات"
    ),
    "betting": _folded(
        r"\b(odds|betting|bookmakers?|bookies|cotes?|paris sportifs|apuestas|cuotas|apostas|wettquoten"
        r"|quoten|wetten|scommess\w*|gokken|wedden|bahis|iddaa)\b|مراهنات|المراهنات"
    ),
}
# A goal scored, in a question: "when did he score" asks for a minute of the game, not a date.
_SCORED = _folded(
    r"\b(scored?|scoring|netted|marque|marquer|marco|anoto|marcou|traf|getroffen|segnato|scoorde|atti)\b|سجل"
)
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
# Kinds that narrow others: a question asking which stadium asks for no other place, one asking when a
# contract ends for no other date, one asking who set up a goal for no score.
SPECIALISES: dict[str, frozenset[str]] = {
    "stadium": frozenset({"place"}),
    "birth": frozenset({"place", "date", "role"}),
    "contract": frozenset({"date"}),
    "broadcast": frozenset({"place"}),
    "assist": frozenset({"score"}),
    "var": frozenset({"score"}),
    "woodwork": frozenset({"post"}),
    "rating": frozenset({"number"}),
    "extra_time": frozenset({"time", "injury"}),
    "former": frozenset({"coach"}),
    "height": frozenset({"number"}),
    "shirt_number": frozenset({"number"}),
    "coach": frozenset({"role"}),
    "captain": frozenset({"role"}),
    "club": frozenset({"role"}),
    "goalkeeper": frozenset({"role"}),
    "halftime": frozenset({"score", "time"}),
    "attendance": frozenset({"count", "number", "place"}),
    "substitution": frozenset({"date", "time"}),
    "next": frozenset({"place", "date", "time", "club", "score"}),
    "history": frozenset({"score", "number"}),
}
# The kinds, the most specific first: of several a question asks for and no passage holds, the one named.
SPECIFIC_FIRST = (
    "age",
    "time",
    "money",
    "count",
    "post",
    "assist",
    "scorer",
    "referee",
    "card",
    "penalty",
    "stadium",
    "stats",
    "birth",
    "contract",
    "rating",
    "woodwork",
    "extra_time",
    "substitution",
    "injury",
    "best",
    "lineup",
    "broadcast",
    "weather",
    "var",
    "next",
    "former",
    "captain",
    "shirt_number",
    "height",
    "family",
    "goalkeeper",
    "fouls",
    "halftime",
    "attendance",
    "history",
    "trouble",
    "betting",
    "score",
    "role",
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
# Words for a footballer's or a coach's role or standing, as reporters write them before a name.
_ROLES = (
    r"star player|player|star|sensation|striker|forward|winger|defender|full-back|right-back|left-back"
    r"|midfielder|goalkeeper|keeper|captain|skipper|coach|manager|boss|winner|teammate|team-mate|talisman"
    r"|international|attaquant|défenseur|latéral|milieu|gardien|sélectionneur|entraîneur|capitaine"
    r"|delantero|defensa|portero|entrenador|seleccionador|atacante|zagueiro|goleiro|treinador|Stürmer"
    r"|Verteidiger|Torwart|Trainer|Kapitän"
)
# What a passage holds, by pattern: read on the passage as written (its capitals and accents tell).
HELD: dict[str, re.Pattern[str]] = {
    "score": re.compile(r"(?<![\d-])\d{1,2}\s?[-–:]\s?\d{1,2}(?![\d-])"),
    "place": re.compile(
        r"\b(in|at|au|en|a|em|no|na|im)\s+(the\s+)?[A-Z][\w'’-]+|\b(stadium|stade|estadio"
        r"|stadion|stadio|stadyum\w*)\b"
        r"|في\s+(قطر|الخور|ملعب)|ملعب"
    ),
    # a club by its name: a word for "club" or "teammate" alone ("his Moroccan club teammate") does not
    # say which club; the names are those a club's name is made of, and the biggest clubs' own
    "club": re.compile(
        r"\b(PSG|Paris Saint-Germain|(FC|AC|AS|CF|SC|SL|RC|OGC|Olympique|Real|Atlético|Atletico"
        r"|Sporting|Inter) [A-Z]\w+|[A-Z]\w+ (FC|CF|United|City|Athletic|Rovers|Wanderers|Hotspur|Albion)"
        r"|Barcelona|Bayern|Juventus|Chelsea|Arsenal|Liverpool|Dortmund|Ajax|Benfica|Porto|Galatasaray|Fenerbahçe|Wydad|Raja)\b"
        r"|نادي\s+\S+|الوداد|الرجاء"
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
    # A stadium by its name: "the Al Bayt Stadium", "au stade Al Bayt", not "walked around the stadium".
    "stadium": re.compile(
        r"\b(?!The\b)[A-Z][\w'’-]+ (Stadium|Arena|Stadion|Stadyumu)\b"
        r"|\b([Ss]tadium|[Ss]tade|[Ee]stadio|[Ss]tadion|[Ss]tadio|[Ee]stádio)"
        r"( (of|de|do|da|del|di|d'))? ?[A-Z]"
        r"|ملعب|استاد"
    ),
    # A person's role or standing, next to their name or their country: "star player Achraf Hakimi",
    # "French sensation Kylian Mbappe", "the French striker", "Morocco's head coach Regragui".
    "role": re.compile(
        rf"\b({_ROLES})\s+[A-Z][\w'’-]+|\b[A-Z][\w'’-]+\s+({_ROLES})\b"
        r"|(الظهير|المدافع|المهاجم|النجم|الحارس|المدرب|البديل|لاعب الوسط|القائد)"
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
    "stats": _folded(
        r"\d+ ?%|\b(possession|shots?|corners?|xg|passes|tirs|tiros|remates|posesion|posse|ballbesitz"
        r"|schusse|ecken|possesso|balbezit)\b|استحواذ|تسديدة"
    ),
    "birth": _folded(
        r"\b(born|native of|birthplace|hometown|nee? (a|en)|nacid[oa]|nacio|nasceu|nascid[oa]|geboren"
        r"|nat[oa] (a|nel)"
        r"|dogdu|dogumlu)\b|ولد|مواليد"
    ),
    "contract": _folded(
        r"\b(contract\w*|contrat\w*|vertrag\w*|contratt[oi]|sozlesme\w*|signed until|deal until)\b|عقد"
    ),
    "rating": _folded(
        r"\b(ratings?|rated|out of (10|ten)|pagell\w*|bewertung\w*|cijfer\w*)\b|\d([.,]\d)?/10|تقييم"
    ),
    "woodwork": _folded(
        r"\b(crossbar|woodwork|(hit|struck|rattled|off|against) the (post|bar|upright)|poteau\w*|transversale"
        r"|larguero|palo|trave|travessao|pfosten|latte|traversa|paal|direk(ten|e)?|direge)\b|القائم|العارضة"
    ),
    "substitution": _folded(
        r"\b(substitut\w*|subbed|came on|brought on|replaced|off the bench|introduced|remplac\w*|entre en jeu"
        r"|sustitu\w*|substitu\w*|eingewechselt|ausgewechselt|sostitu\w*|gewisseld|ingevallen|oyuna girdi)\b"
        r"|تبديل|بديل"
    ),
    "injury": _folded(
        r"\b(injur\w*|hamstring|knee|ankle|limp\w*|fitness|forced off|blesse\w*|blessure\w*|lesion\w*"
        r"|lesionad\w*"
        r"|lesao|verletz\w*|infortun\w*|geblesseerd|sakat\w*|ill|illness|sick|virus|flu)\b|إصاب\w*|مصاب"
    ),
    "best": _folded(
        r"\b(man of the match|player of the match|homme du match|jugador del partido|hombre del partido"
        r"|homem do jogo|spieler des spiels|mann des spiels|uomo partita|migliore in campo"
        r"|man van de wedstrijd"
        r"|maçın oyuncusu)\b|رجل المباراة"
    ),
    "lineup": _folded(
        r"\b(line-?ups?|starting (eleven|xi|line-?up)|formation|started|starts|titulaire\w*|alineacion"
        r"|titular\w*|escalacao|aufstellung|startelf|formazione|titolar\w*|opstelling|basis|kadro\w*)\b"
        r"|\b\d-\d-\d(-\d)?\b|تشكيل"
    ),
    "broadcast": _folded(
        r"\b(broadcast\w*|televis\w*|tv|bbc|itv|bein|tf1|telemundo|(tv|television) channels?|live stream\w*"
        r"|streamed|chaine|diffus\w*|canal"
        r"|retransmi\w*|fernseh\w*|ubertrag\w*|sender|canale|zender|kanal\w*|yayın\w*)\b|قناة|بث"
    ),
    "weather": _folded(
        r"\b(weather|rain\w*|temperature|humid\w*|degrees|meteo|pluie|chaleur|lluvia|chuva|wetter|regen|hitze"
        r"|pioggia|caldo|yagmur\w*|sıcak\w*)\b|\d ?°|الطقس|مطر|حرارة"
    ),
    "assist": _folded(
        r"\b(assists?|assisted|set up|teed up|cross from|pass from|passe decisive|asistencia|asistio"
        r"|assistencia|assistiu|vorlage|vorgelegt|asist(i|ini|ler|yap\w*)?)\b|صناعة|تمريرة حاسمة"
    ),
    "var": _folded(
        r"\b(var|video assistant|offside\w*|hors-?jeu|fuera de juego|impedimento|abseits|videobeweis"
        r"|fuorigioco|buitenspel|ofsayt)\b|تسلل|الفار"
    ),
    "extra_time": _EXTRA_TIME,
    "next": _folded(
        r"\b(will (face|play|meet|take on)|to face|set up a final (against|with)|final against|next opponent"
        r"|affronter\w*|affrontera\w*|se mesurer\w*|enfrentar\w*|jugara contra|vai enfrentar|trifft auf"
        r"|treffen auf|spielt gegen|affrontera\w*|sfidera\w*|neemt het op tegen|speelt tegen"
        r"|karşılaşacak\w*|third[- ]place (play-?off|match)|jouera (\w+ ){0,4}contre|(la )?troisieme place"
        r"|petite finale|(tercer|3er) puesto|terceiro lugar|um platz (drei|3)|terzo posto)\b"
        r"|سيلاقي|سيواجه|سيلعب|المركز الثالث"
    ),
    "former": _folded(
        r"\b(predecessor|replaced|succeeded|took over|took charge|former|previous|ancien|predecesseur|succede"
        r"|remplace|antecesor|sucedio|sustituyo|reemplazo|antecessor|substituiu|vorganger|nachfolger"
        r"|ubernahm|predecessore|sostituito|voorganger|opvolger|selef\w*|yerine)\b|السابق|خلف|خلفا"
    ),
    "captain": _folded(
        r"\b(captain\w*|skipper|armband|capitaine|brassard|capitan\w*|capitao|kapitan\w*|spielfuhrer|capitano"
        r"|aanvoerder|kaptan\w*)\b|قائد|شارة"
    ),
    "shirt_number": _folded(
        r"\b(number \d{1,2}|no\. ?\d{1,2}|numero \d{1,2}|nummer \d{1,2}|dorsal)\b|رقم \d"
    ),
    "height": _folded(
        r"\b\d[.,]\d\d ?m\b|\b\d{3} ?cm\b|\b\d ?ft\b|\d{2,3} ?kg\b|\b(tall|height|taille|altura)\b"
    ),
    "family": _folded(
        r"\b(wife|girlfriend|married|children|sons|his son|her son|daughters?|father|mother|mum|mom|dad"
        r"|parents|femme|epouse|enfants|mere|pere|esposa|novia|hijos|madre|padre|mulher|filhos|mae|pai|frau|kinder"
        r"|mutter|vater|moglie|figli|vrouw|kinderen|moeder|vader|annesi\w*|babası\w*"
        r"|زوجة|زوجته|والدة|والدته|والده|أمه|أبوه)\b"
    ),
    "goalkeeper": _folded(
        r"\b(goal-?keepers?|keepers?|goalies?|saves?d?|clean sheets?|gardien\w*|portero|arquero|guardameta"
        r"|goleiro|torwart|torhuter|portiere|doelman|kaleci\w*)\b|حارس المرمى|حارس مرمى|الحارس|تصد"
    ),
    "fouls": _folded(
        r"\b(foul\w*|free-? ?kicks?|fautes?|coups? francs?|faltas?|tiros? libres?|freisto\w*"
        r"|punizion\w*|falli|overtreding\w*|vrije trap\w*|faul\w*)\b|ضربة حرة|خطأ|أخطاء"
    ),
    "halftime": _folded(
        r"\b(half-? ?time|first half|second half|the break|interval|mi-? ?temps|periode|primer tiempo"
        r"|segundo tiempo|descanso|primeiro tempo|segundo tempo|intervalo|halbzeit\w*|halfte|primo tempo"
        r"|secondo tempo|intervallo|rust|helft|devre\w*|yari)\b|الشوط"
    ),
    "attendance": _folded(
        r"\b\d[\d,. ]*\d (fans|spectators|supporters|people|spectateurs|aficionados|espectadores"
        r"|torcedores|zuschauer|tifosi|spettatori|toeschouwers|taraftar|seyirci)\b"
        r"|\b(attendance|crowd of \d[\d,.]*|sold-? ?out|sell-? ?out|capacity crowd|affluence|guichets fermes"
        r"|lleno|lotado|ausverkauft"
        r"|tutto esaurito|uitverkocht)\b|متفرج|الحضور"
    ),
    "history": _folded(
        r"\b(head-? ?to-? ?head|h2h|previous meetings?|last met|met (only |just )?(once|twice|\w+ times)"
        r"|(had|have) (never )?met"
        r"|first (ever )?meeting|(deja|jamais) affronte\w*|enfrentamientos?|confrontos?|direktvergleich"
        r"|precedenti|onderlinge)\b|المواجهات|مواجهة سابقة"
    ),
    "trouble": _folded(
        r"\b(riots?|rioting|rioters|clashes|violence|arrests?|arrested|police|unrest|hooligan\w*|emeutes?"
        r"|violences|affrontements|interpellations?|policiers|disturbios|altercados|detenidos|policia"
        r"|tumultos|presos|krawall\w*|ausschreitungen|randale|festnahmen|polizei|scontri|disordini|arresti"
        r"|polizia|rellen|politie|olaylar|polis)\b|شغب|اعتقال|الشرطة|اشتباكات"
    ),
    "betting": _folded(
        r"\b(odds|betting|bookmakers?|bookies|cotes?|apuestas|cuotas|apostas|wettquoten|quoten|wetten"
        r"|scommess\w*|bahis|iddaa)\b|مراهنات"
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
    if "date" in kinds and _SCORED.search(folded):  # "when did he score": a minute of the game
        kinds = kinds - {"date", "score"} | {"time"}
    for kind in kinds & SPECIALISES.keys():  # "where was he born" asks for a birthplace, not any place
        kinds -= SPECIALISES[kind]
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
