"""Fixed vocabularies of the synthetic book: plans, prices, names, industries, people.

Prices are whole currency units per seat per month. The annual price is 12 × a whole
monthly-equivalent figure (about 15% off), so every line's MRR is a whole number of
minor units: ``mrr_minor = seats × monthly_equivalent × (100 − discount%)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEGMENT_SHARE = {"self-serve": 0.36, "smb": 0.34, "mid-market": 0.20, "enterprise": 0.10}

#: per segment: plan, monthly list price per seat, annual monthly-equivalent, plan usage
#: limit per seat per month, seat count lognormal (median, sigma), share billed monthly
PLANS = pd.DataFrame(
    {
        "segment": ["self-serve", "smb", "mid-market", "enterprise"],
        "plan": ["Starter", "Team", "Business", "Enterprise"],
        "monthly_price": [15, 30, 55, 90],
        "annual_equivalent": [13, 26, 47, 77],
        "limit_per_seat": [400, 600, 900, 1200],
        "seats_median": [3, 12, 35, 90],
        "seats_sigma": [0.5, 0.5, 0.5, 0.45],
        "monthly_share": [0.9, 0.55, 0.1, 0.0],
        "contacts": [2, 3, 5, 8],
        "ticket_rate": [0.6, 1.2, 3.0, 6.0],
    }
)

CURRENCIES = np.array(["USD", "EUR", "GBP"])
CURRENCY_SHARE = np.array([0.8, 0.12, 0.08])
COUNTRY_BY_CURRENCY = {
    "USD": ["United States", "United States", "Canada", "Australia"],
    "EUR": ["Germany", "France", "Netherlands", "Spain"],
    "GBP": ["United Kingdom"],
}
VAT_PERCENT = {"USD": 0, "EUR": 20, "GBP": 20}

INDUSTRIES = np.array([
    "Software", "Financial Services", "Healthcare", "Retail", "Manufacturing",
    "Education", "Media", "Logistics", "Professional Services", "Real Estate",
])
ICP_TIERS = np.array(["Tier 1", "Tier 2", "Tier 3"])

NAME_A = np.array([
    "Bright", "North", "Blue", "Silver", "Clear", "Swift", "Green", "Iron", "Red", "Open",
    "True", "Bold", "Deep", "High", "Quiet", "Rapid", "Solid", "Summit", "Golden", "Wild",
    "Cedar", "Harbor", "Maple", "Granite", "Lumen", "Nova", "Polar", "Amber", "Cobalt", "Echo",
])
NAME_B = np.array([
    "path", "wave", "stone", "field", "bridge", "spark", "leaf", "forge", "river", "peak",
    "line", "gate", "works", "point", "cloud", "frame", "shift", "craft", "light", "yard",
    "loop", "nest", "grid", "mark", "port", "sail", "root", "wing", "scope", "vale",
])
NAME_SUFFIX = np.array(["Inc", "Labs", "Group", "Systems", "Co", "Technologies", "Partners", "Health", "Logistics", "Media"])
TLDS = np.array(["com", "io", "co", "net", "ai"])

FIRST_NAMES = np.array([
    "Alex", "Maria", "James", "Priya", "Chen", "Sofia", "Liam", "Amara", "Noah", "Elena",
    "Omar", "Hannah", "Lucas", "Yuki", "Grace", "Mateo", "Ava", "Daniel", "Fatima", "Ethan",
    "Chloe", "Ivan", "Zoe", "Samuel", "Leila", "Ben", "Nina", "Tomas", "Ruth", "Kofi",
])
LAST_NAMES = np.array([
    "Smith", "Garcia", "Chen", "Patel", "Müller", "Rossi", "Johnson", "Kim", "Nguyen", "Brown",
    "Dubois", "Silva", "Novak", "Okafor", "Larsen", "Haddad", "Walker", "Sato", "Lopez", "Evans",
    "Fischer", "Moreau", "Singh", "Costa", "Ward", "Keller", "Ahmed", "Young", "Reyes", "Blake",
])
TITLES_CHAMPION = np.array(["Head of Operations", "RevOps Manager", "Director of Customer Success", "Product Lead"])
TITLES_SPONSOR = np.array(["VP Operations", "Chief Revenue Officer", "COO", "VP Customer Success"])
TITLES_USER = np.array(["Analyst", "Account Manager", "Operations Specialist", "Engineer", "Support Lead", "Marketing Manager"])

CSM_NAMES = np.array([
    "Dana Whitfield", "Marcus Bell", "Irene Novak", "Tobias Grant", "Leah Fontaine",
    "Ravi Menon", "Carla Ortiz", "Jonas Berg", "Mei Tanaka", "Owen Price",
])

FEATURES = np.array(["dashboards", "reports", "alerts", "api", "exports", "automations", "integrations", "forecasts"])
#: how widely each feature is used by a healthy account (probability a user touches it on an active day)
FEATURE_REACH = np.array([0.8, 0.55, 0.35, 0.25, 0.3, 0.2, 0.15, 0.12])
TEAMS = np.array(["Sales", "Customer Success", "Finance", "Operations", "Marketing"])

LOSS_DETAIL = {
    "missing_feature": "Needed native forecasting by territory; not on the roadmap this year.",
    "budget": "Budget frozen for next fiscal year; tools consolidated.",
    "champion_left": "Our champion left the company and the new lead did not pick it up.",
    "poor_onboarding": "Team never got fully set up; adoption stayed low after kickoff.",
    "competitor": "Moved to a competitor bundled with their CRM.",
    "company_change": "Acquired; parent company standardises on its own stack.",
    "other": "No specific reason given.",
}
