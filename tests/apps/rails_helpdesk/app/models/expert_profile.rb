class ExpertProfile < ApplicationRecord
  belongs_to :user
end
