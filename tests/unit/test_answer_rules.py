"""Offline answers over a small corpus of our own: pronouns named only by an agreeing
person's name, never a bare heading, whole sentences, the sentence that is about what
the question asks, and "nothing found" when no passage has the question's key words.

Each row is (question, passages in search order, titles, the expected answer); None for
"nothing found". `bench`-style counting of these rows gives the before/after figure.
"""

from __future__ import annotations

import pytest

from convrag.language.extractive import _whole, extractive_answer, is_heading

BOARD = ("Lena Fischer chairs the board. She joined the company in 2009 and previously ran "
         "a shipping firm. Omar Haddad is the treasurer. He was appointed in 2019 and signs "
         "all payments above 10,000 euros.")
TEAM = "The platform group has 80 engineers. He reports to the chief executive."
KETTLE = ("Model K9 Kettle\nThe Model K9 kettle holds 1.7 litres and boils water in three "
          "minutes. It sells for 39 euros in our shop.")
GYM = ("The gym opens at 6:00; towels cost 2 euros. Members must bring a padlock. "
       "Lockers are free.")
CUT = "and members must bring a padlock. Lockers are free."
REMOTE = "Staff may work from home two days a week once their trial period is over."
TRIAL = "The trial period lasts three months. A mentor is assigned on the first day."
PRINTER = ("Printer Setup\nThe office printer is a Brother HL-900. Add it through Settings "
           "using the address print.office.lan. If the printer loses its connection, "
           "restart it and wait two minutes.")
SHUTTLE = "Departures are from gate 2. It runs every 20 minutes."
# The sentence before names its subject with a verb of its own: "It" is that subject.
SHUTTLE_NAMED = "The shuttle leaves from gate 2. It runs every 20 minutes."

JIAOSHI = "陈志远教授是物理学院院长。他于2003年在北京大学获得博士学位，研究方向是固体物理。"
CAIWU = "刘芳女士是财务总监。她负责公司的预算和审计。"
BUMEN = "销售部共有四十名员工。他每周一主持例会。"
DIANDONG = ("云帆E5电动车产品介绍\n云帆E5是一款城市通勤电动车，续航120公里。"
            "售价3299元，提供两年质保。")
ZHAO = "赵明教授是青山大学化学系主任。他曾在上海工作十年。"
QINGSHAN = "青山大学位于长沙，始建于1952年，是一所综合性大学。"
YOUYONG = "游泳馆早上六点开门；周一闭馆。"
FRAGMENT_ZH = "，会员需自带泳帽。儿童须由家长陪同。"

# (question, passages, titles, answer); None: the answer says nothing was found.
CASES = [
    # 1. he/she/他/她: the nearest preceding subject that is a person's name, never a title
    ("When did Lena Fischer join the company?", [BOARD], ["Board of Directors"],
     "Lena Fischer joined the company in 2009 and previously ran a shipping firm [1]."),
    ("When was Omar Haddad appointed?", [BOARD], ["Board of Directors"],
     "Omar Haddad was appointed in 2019 and signs all payments above 10,000 euros [1]."),
    ("Who reports to the chief executive?", [TEAM], ["Platform Group"],
     "He reports to the chief executive [1]."),
    ("陈志远哪一年获得博士学位？", [JIAOSHI], ["学院知名教授"],
     "陈志远教授于2003年在北京大学获得博士学位，研究方向是固体物理[1]。"),
    ("谁负责公司的预算？", [CAIWU], ["管理团队"], "刘芳女士负责公司的预算和审计[1]。"),
    ("谁主持例会？", [BUMEN], ["销售部门"], "他每周一主持例会[1]。"),
    # a name that does not agree is no referent
    ("Who signs the orders?", ["Mr. Paul Weber runs the lab. She signs the orders."],
     ["Lab"], "She signs the orders [1]."),
    ("谁负责采购？", ["王先生是实验室主任。她负责采购。"], ["实验室"], "她负责采购[1]。"),
    # "It" takes the title only when the title names a thing
    ("How often does the shuttle run?", [SHUTTLE], ["Shuttle Bus"],
     "Shuttle Bus runs every 20 minutes [1]."),
    ("How often does the shuttle run?", [SHUTTLE], ["Buses and Parking"],
     "It runs every 20 minutes [1]."),
    ("How often does the shuttle run?", [SHUTTLE_NAMED], ["Buses and Parking"],
     "The shuttle runs every 20 minutes [1]."),
    # 3. never a bare heading; a price question prefers a currency amount
    ("How much does the K9 kettle cost?", [KETTLE], ["Model K9 Kettle"],
     "The Model K9 kettle sells for 39 euros in our shop [1]."),
    ("How much water does the K9 kettle hold?", [KETTLE], ["Model K9 Kettle"],
     "The Model K9 kettle holds 1.7 litres and boils water in three minutes [1]."),
    ("云帆E5多少钱？", [DIANDONG], ["dianche"], "售价3299元，提供两年质保[1]。"),
    ("云帆E5的续航是多少？", [DIANDONG], ["dianche"],
     "云帆E5是一款城市通勤电动车，续航120公里[1]。"),
    # 4. whole sentences; a cut one starts with a capital and ends cleanly
    ("When does the gym open?", [GYM], ["Gym"],
     "The gym opens at 6:00; towels cost 2 euros [1]."),
    ("Must members bring a padlock?", [CUT], ["Gym"], "Members must bring a padlock [1]."),
    ("When does the gym close?", ["Lunch is at noon. The gym closes at 22:00;"], ["Gym"],
     "The gym closes at 22:00 [1]."),
    ("游泳馆几点开门？", [YOUYONG], ["游泳馆"], "游泳馆早上六点开门；周一闭馆[1]。"),
    ("会员需要自带什么？", [FRAGMENT_ZH], ["游泳馆"], "会员需自带泳帽[1]。"),
    # 5. the sentence about what is asked, of the form asked for
    ("How long is the trial period?", [REMOTE, TRIAL], ["Remote work", "Onboarding"],
     "The trial period lasts three months [2]."),
    ("How do I connect to the printer?", [PRINTER], ["Printer Setup"],
     "Add it through Settings using the address print.office.lan [1]."),
    ("青山大学在哪里？", [ZHAO, QINGSHAN], ["大学教授", "青山大学简介"],
     "青山大学位于长沙，始建于1952年，是一所综合性大学[2]。"),
    # ... and nothing, when no passage has the question's key words
    ("Do you sell gift cards?", [KETTLE, GYM], ["Model K9 Kettle", "Gym"], None),
    ("Do you use cookies?", [PRINTER], ["Printer Setup"], None),
    ("你们提供发票吗？", [DIANDONG], ["dianche"], None),
    # ... or the thing whose existence is asked about
    ("Does the office have a car park?",
     ["The office is in building C. The office opens at 8:00."], ["Office"], None),
    ("Does the office have a car park?",
     ["The office is in building C. The office has a car park for 40 cars."], ["Office"],
     "The office has a car park for 40 cars [1]."),
    ("图书馆有停车场吗？", ["图书馆位于主楼三层。图书馆每天晚上十点关门。"], ["图书馆"], None),
]


@pytest.mark.parametrize(("question", "passages", "titles", "answer"), CASES,
                         ids=[row[0] for row in CASES])
def test_the_answer(question, passages, titles, answer):
    lang = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in question) else "en"
    result = extractive_answer(question, passages, lang=lang, titles=titles)
    if answer is None:
        assert not result.found, result.text
    else:
        assert result.found
        assert result.text == answer


@pytest.mark.parametrize(("line", "title", "expected"), [
    ("星辰X9产品介绍", None, True),       # a model number is part of a title
    ("Model K9 Kettle", None, True),
    ("Lunch costs 6 euros", None, False),  # an amount: it may answer
    ("营业时间 9:00", None, False),
    ("Parking and bicycles at the north entrance of the main building", None, False),
    ("Parking and bicycles at the north entrance of the main building",
     "Parking and bicycles at the north entrance of the main building", True),
])
def test_a_heading(line, title, expected):
    assert is_heading(line, title) is expected


@pytest.mark.parametrize(("sentence", "whole"), [
    ("cash is not accepted.", "Cash is not accepted."),
    ("and members must bring a padlock.", "Members must bring a padlock."),
    ("iPhone users pay 5 euros.", "iPhone users pay 5 euros."),
    ("Guests sign in at the desk;", "Guests sign in at the desk."),
    ("，会员需自带泳帽。", "会员需自带泳帽。"),
    ("会员需自带泳帽；", "会员需自带泳帽。"),
])
def test_a_cut_sentence_reads_whole(sentence, whole):
    assert _whole(sentence) == whole
